"""Tags as a vocabulary: how often each is used; rename (or fold into another) and delete.

Each ticket touched gets a history row and a new version, so an agent editing one of them
at the same moment is told, rather than silently putting the old tag back."""

from __future__ import annotations

from pydantic import BaseModel

from kefu.db import Ctx
from kefu.kit.errors import NotFound, invalid
from kefu.kit.validators import normalise_tag
from kefu.security.permissions import Principal
from kefu.tickets import repository as repo
from kefu.tickets.service import history_row


class TagCount(BaseModel):
    tag: str
    tickets: int


def tag_counts(ctx: Ctx, limit: int = 200) -> list[TagCount]:
    return [TagCount(tag=t, tickets=n) for t, n in repo.tag_counts(ctx.session, limit)]


def _clean(value: str, loc: str) -> str:
    try:
        return normalise_tag(value)
    except ValueError as exc:
        raise invalid(["body", loc], str(exc)) from exc


def rename_tag(ctx: Ctx, actor: Principal, old: str, new: str) -> int:
    """Rename ``old`` to ``new`` (folding it in if ``new`` exists); the tickets changed."""
    old, new = _clean(old, "tag"), _clean(new, "new_tag")
    ids = repo.ticket_ids_with_tag(ctx.session, old)
    if not ids:
        raise NotFound("Tag", old)
    if old == new:
        return 0
    repo.rename_tag(ctx.session, old, new, ids)
    rows = [history_row(ctx, i, actor, "changed", "tags", old, new) for i in ids]
    repo.insert_events(ctx.session, rows)
    ctx.emit("tag.renamed", tag=old, new_tag=new, tickets=len(ids), actor_id=actor.user_id)
    return len(ids)


def delete_tag(ctx: Ctx, actor: Principal, tag: str) -> int:
    tag = _clean(tag, "tag")
    ids = repo.ticket_ids_with_tag(ctx.session, tag)
    if not ids:
        raise NotFound("Tag", tag)
    repo.delete_tag(ctx.session, tag, ids)
    repo.insert_events(
        ctx.session, [history_row(ctx, i, actor, "changed", "tags", tag, None) for i in ids]
    )
    ctx.emit("tag.deleted", tag=tag, tickets=len(ids), actor_id=actor.user_id)
    return len(ids)
