"""Saved views: anyone keeps personal views; supervisors and admins share views with all."""

from __future__ import annotations

from kefu.accounts import service as accounts
from kefu.db import Ctx
from kefu.kit.errors import NotFound
from kefu.security.permissions import Action, Principal
from kefu.views import repository as repo
from kefu.views.models import SavedView
from kefu.views.schemas import SavedViewCreate, SavedViewRead, SavedViewUpdate, ViewFilters


def view_read(view: SavedView) -> SavedViewRead:
    return SavedViewRead(
        id=view.id,
        name=view.name,
        owner_id=view.owner_id,
        shared=view.shared,
        filters=ViewFilters.model_validate(view.filters or {}),
        sort=view.sort,
        position=view.position,
        created_at=view.created_at,
        updated_at=view.updated_at,
    )


def list_views(ctx: Ctx, actor: Principal) -> list[SavedViewRead]:
    """The actor's own views and every shared one, in display order."""
    return [view_read(v) for v in repo.visible_to(ctx.session, actor.user_id)]


def _visible(ctx: Ctx, actor: Principal, view_id: int) -> SavedView:
    view = repo.get(ctx.session, view_id)
    if view is None or (view.owner_id != actor.user_id and not view.shared):
        raise NotFound("View", view_id)
    return view


def get_view(ctx: Ctx, actor: Principal, view_id: int) -> SavedViewRead:
    return view_read(_visible(ctx, actor, view_id))


def _editable(ctx: Ctx, actor: Principal, view_id: int) -> SavedView:
    view = _visible(ctx, actor, view_id)
    if view.shared or view.owner_id != actor.user_id:
        actor.check(Action.view_share)
    return view


def _check_filters(ctx: Ctx, filters: ViewFilters) -> None:
    if filters.team_id is not None:
        accounts.describe_assignment(ctx, None, filters.team_id)
    if filters.assignee is not None and filters.assignee.isdigit():
        accounts.require_active_users(ctx, [int(filters.assignee)], "assignee")


def create_view(ctx: Ctx, actor: Principal, data: SavedViewCreate) -> SavedViewRead:
    if data.shared:
        actor.check(Action.view_share)
    _check_filters(ctx, data.filters)
    now = ctx.now()
    view = SavedView(
        name=data.name,
        owner_id=actor.user_id,
        shared=data.shared,
        filters=data.filters.model_dump(mode="json", exclude_defaults=True),
        sort=data.sort,
        position=data.position,
        created_at=now,
        updated_at=now,
    )
    repo.add(ctx.session, view)
    ctx.emit("view.created", view_id=view.id, user_id=actor.user_id, shared=view.shared)
    return view_read(view)


def update_view(ctx: Ctx, actor: Principal, view_id: int, data: SavedViewUpdate) -> SavedViewRead:
    view = _editable(ctx, actor, view_id)
    if data.shared:
        actor.check(Action.view_share)
    if data.filters is not None:
        _check_filters(ctx, data.filters)
        view.filters = data.filters.model_dump(mode="json", exclude_defaults=True)
    for key in ("name", "shared", "sort", "position"):
        value = getattr(data, key)
        if value is not None:
            setattr(view, key, value)
    view.updated_at = ctx.now()
    ctx.emit("view.updated", view_id=view.id, user_id=actor.user_id, shared=view.shared)
    return view_read(view)


def delete_view(ctx: Ctx, actor: Principal, view_id: int) -> None:
    view = _editable(ctx, actor, view_id)
    repo.delete(ctx.session, view)
    ctx.emit("view.deleted", view_id=view_id, user_id=actor.user_id, shared=view.shared)
