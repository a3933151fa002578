"""HTML routes of the inbox: views with counts, the ticket list, search, bulk actions.

The ticket page itself is in ``web_ticket.py``; saved views are managed in ``views/web.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kefu.accounts import service as accounts
from kefu.accounts.schemas import TeamRead, UserRead
from kefu.db import Ctx
from kefu.security.deps import RuntimeDep
from kefu.security.permissions import Action, Principal
from kefu.tickets import relations
from kefu.tickets import service as tickets
from kefu.tickets.models import PRIORITY_RANK, Status
from kefu.tickets.repository import TicketFilter
from kefu.tickets.schemas import BulkResult, BulkUpdate, MergeRequest, TicketPage, TicketUpdate
from kefu.views import service as views
from kefu.views.schemas import SavedViewRead, ViewFilters
from kefu.web import forms, slots
from kefu.web.auth import allowed
from kefu.web.i18n import N_, Formatter
from kefu.web.render import gettext_for, ngettext_for, render

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Principal, Depends(allowed(Action.ticket_read))]
Editor = Annotated[Principal, Depends(allowed(Action.ticket_write))]
PAGE = 50
# Views count up to here ("1,000+"): an exact count of 300,000 open tickets would cost a
# scan on every page load and tell an agent nothing more.
COUNT_CAP = 1000
ACTIVE = [Status.new, Status.open, Status.pending, Status.on_hold]
UNSOLVED = [Status.new, Status.open]
SORTS = {
    "-updated_at": N_("Last activity"),
    "-created_at": N_("Newest first"),
    "created_at": N_("Oldest first"),
    "-priority": N_("Priority"),
    "-id": N_("Ticket number"),
}
FILTER_KEYS = ("status", "priority", "assignee", "team_id", "tag", "channel")


@dataclass(frozen=True)
class Builtin:
    key: str
    label: str
    filters: ViewFilters


BUILTINS = (
    Builtin("mine", N_("Mine"), ViewFilters(assignee="me", status=ACTIVE)),
    Builtin("unassigned", N_("Unassigned"), ViewFilters(assignee="none", status=UNSOLVED)),
    Builtin("teams", N_("My teams"), ViewFilters(status=ACTIVE)),
    Builtin("open", N_("All open"), ViewFilters(status=UNSOLVED)),
    Builtin("pending", N_("Pending"), ViewFilters(status=[Status.pending])),
    Builtin("solved", N_("Solved today"), ViewFilters(status=[Status.solved, Status.closed])),
)
BY_KEY = {b.key: b for b in BUILTINS}
OTHER_TITLES = {"all": N_("All tickets"), "custom": N_("Filtered tickets")}


# -- what the inbox was asked for --------------------------------------------------------
@dataclass
class InboxQuery:
    view: str = "mine"
    sort: str | None = None
    q: str | None = None
    cursor: str | None = None
    filters: ViewFilters | None = None

    def params(self, **changes: Any) -> dict[str, Any]:
        values: dict[str, Any] = {"view": self.view, "sort": self.sort, "q": self.q}
        if self.filters is not None:
            values.update(self.filters.model_dump(mode="json", exclude_defaults=True))
        values.update(changes)
        return {k: v for k, v in values.items() if v not in (None, "", [])}

    def url(self, path: str = "/inbox", **changes: Any) -> str:
        return f"{path}?{urlencode(self.params(**changes), doseq=True)}"


def inbox_query(request: Request) -> InboxQuery:
    """The inbox's query string; filters given explicitly make a "custom" view."""
    params = request.query_params
    query = InboxQuery(
        view=params.get("view") or "mine",
        sort=params.get("sort") or None,
        q=(params.get("q") or "").strip()[:200] or None,
        cursor=params.get("cursor") or None,
    )
    given = {
        k: params.getlist(k) if k in ("status", "priority") else params.get(k) for k in FILTER_KEYS
    }
    given = {k: v for k, v in given.items() if v not in (None, "", [])}
    if given or query.view == "custom":
        query.filters = forms.parse(ViewFilters, given)
        query.view = "custom"
    return query


Query = Annotated[InboxQuery, Depends(inbox_query)]


# -- from a view to a ticket filter ------------------------------------------------------
def to_filter(filters: ViewFilters, me: Principal) -> TicketFilter:
    flt = TicketFilter(
        status=[s.value for s in filters.status],
        priority=[PRIORITY_RANK[p] for p in filters.priority],
        team_id=filters.team_id,
        tag=filters.tag,
        channel=filters.channel,
        q=filters.q,
    )
    if filters.assignee == "me":
        flt.assignee_id = me.user_id
    elif filters.assignee == "none":
        flt.unassigned = True
    elif filters.assignee is not None:
        flt.assignee_id = int(filters.assignee)
    return flt


def builtin_filter(key: str, me: Principal, midnight: datetime) -> TicketFilter:
    flt = to_filter(BY_KEY[key].filters, me)
    if key == "teams":
        # With no team the view is empty: -1 is a team id no team has.
        flt.team_ids = sorted(me.team_ids) or [-1]
    elif key == "solved":
        flt.solved_from = midnight
    return flt


@dataclass
class ViewSpec:
    key: str
    title: str
    flt: TicketFilter
    sort: str
    saved: SavedViewRead | None = None


def resolve(
    query: InboxQuery, me: Principal, saved: list[SavedViewRead], midnight: datetime
) -> ViewSpec:
    sort = query.sort or "-updated_at"
    if query.view in BY_KEY:
        spec = ViewSpec(
            query.view, BY_KEY[query.view].label, builtin_filter(query.view, me, midnight), sort
        )
    elif query.view.startswith("v") and query.view[1:].isdigit():
        view = next((v for v in saved if v.id == int(query.view[1:])), None)
        if view is None:
            return resolve(InboxQuery(sort=query.sort, q=query.q), me, saved, midnight)
        spec = ViewSpec(
            query.view, view.name, to_filter(view.filters, me), query.sort or view.sort, view
        )
    elif query.view == "custom" and query.filters is not None:
        spec = ViewSpec("custom", OTHER_TITLES["custom"], to_filter(query.filters, me), sort)
    else:
        spec = ViewSpec("all", OTHER_TITLES["all"], TicketFilter(), sort)
    if query.q:
        spec.flt.q = f"{spec.flt.q} {query.q}" if spec.flt.q else query.q
    return spec


def view_filters_of(spec: ViewSpec, me: Principal) -> ViewFilters:
    """The filter form's starting point for the current view."""
    if spec.saved is not None:
        return spec.saved.filters
    if spec.key in BY_KEY:
        return BY_KEY[spec.key].filters
    return ViewFilters()


# -- the data of one inbox page (one read transaction) -----------------------------------
@dataclass
class NavData:
    saved: list[SavedViewRead]
    counts: dict[str, int]
    active: str
    cap: int


@dataclass
class InboxData:
    spec: ViewSpec
    page: TicketPage
    nav: NavData | None = None
    users: list[UserRead] = field(default_factory=list)
    teams: list[TeamRead] = field(default_factory=list)
    slot_data: dict[str, dict[int, Any]] = field(default_factory=dict)


def count_views(
    ctx: Ctx, me: Principal, saved: list[SavedViewRead], midnight: datetime
) -> dict[str, int]:
    specs = {b.key: builtin_filter(b.key, me, midnight) for b in BUILTINS}
    if not me.team_ids:
        specs.pop("teams")
    specs.update({f"v{v.id}": to_filter(v.filters, me) for v in saved})
    return {key: tickets.count_tickets(ctx, me, flt, COUNT_CAP) for key, flt in specs.items()}


def nav_data(ctx: Ctx, me: Principal, query: InboxQuery, midnight: datetime) -> NavData:
    saved = views.list_views(ctx, me)
    active = resolve(query, me, saved, midnight).key
    return NavData(saved, count_views(ctx, me, saved, midnight), active, COUNT_CAP)


def inbox_data(
    ctx: Ctx, me: Principal, query: InboxQuery, midnight: datetime, full: bool
) -> InboxData:
    saved = views.list_views(ctx, me)
    spec = resolve(query, me, saved, midnight)
    page = tickets.list_tickets(ctx, me, spec.flt, sort=spec.sort, cursor=query.cursor, limit=PAGE)
    data = InboxData(spec, page)
    data.slot_data = slots.load("ticket_row", ctx, me, [t.id for t in page.items])
    data.users = [u for u in accounts.list_users(ctx) if u.is_active]  # bulk assign, filters
    data.teams = accounts.list_teams(ctx)
    if full:
        data.nav = NavData(saved, count_views(ctx, me, saved, midnight), spec.key, COUNT_CAP)
    return data


def rows_data(
    ctx: Ctx, me: Principal, query: InboxQuery, ids: list[int], midnight: datetime
) -> InboxData:
    saved = views.list_views(ctx, me)
    spec = resolve(query, me, saved, midnight)
    spec.flt.ids = ids
    page = tickets.list_tickets(ctx, me, spec.flt, sort=spec.sort, limit=len(ids))
    data = InboxData(spec, page)
    data.slot_data = slots.load("ticket_row", ctx, me, [t.id for t in page.items])
    return data


def midnight_of(request: Request, me: Principal) -> datetime:
    now = request.app.state.runtime.clock.now()
    return Formatter(me.language, me.time_zone, now).midnight()


# -- routes ------------------------------------------------------------------------------
@router.get("/")
async def home(me: Viewer) -> RedirectResponse:
    return RedirectResponse("/inbox", status_code=303)


@router.get("/inbox")
async def inbox(request: Request, me: Viewer, runtime: RuntimeDep, query: Query) -> HTMLResponse:
    partial = forms.is_htmx(request)
    data = await runtime.db.read(inbox_data, me, query, midnight_of(request, me), not partial)
    context = _context(me, query, data)
    if query.cursor and partial:
        return render(request, "tickets/_rows.html", context)
    return render(request, "tickets/inbox.html", context, partial="tickets/_list.html")


def _context(me: Principal, query: InboxQuery, data: InboxData) -> dict[str, Any]:
    return {
        "me": me,
        "query": query,
        "data": data,
        "spec": data.spec,
        "sorts": SORTS,
        "builtins": BUILTINS,
        "filters": query.filters or view_filters_of(data.spec, me),
        "section": "inbox",
    }


@router.get("/inbox/counts")
async def counts(request: Request, me: Viewer, runtime: RuntimeDep, query: Query) -> HTMLResponse:
    """The views with their counts, refreshed by the page after live changes."""
    nav = await runtime.db.read(nav_data, me, query, midnight_of(request, me))
    return render(
        request,
        "tickets/_views_nav.html",
        {"me": me, "query": query, "nav": nav, "builtins": BUILTINS},
    )


@router.get("/inbox/rows")
async def rows(
    request: Request, me: Viewer, runtime: RuntimeDep, query: Query, ids: str = ""
) -> HTMLResponse:
    """The rows among ``ids`` that belong in the current view (live updates)."""
    wanted = [int(i) for i in ids.split(",") if i.strip().isdigit()][:PAGE]
    if not wanted:
        return HTMLResponse("")
    data = await runtime.db.read(rows_data, me, query, wanted, midnight_of(request, me))
    return render(request, "tickets/_rows.html", {**_context(me, query, data), "live": True})


@router.post("/inbox/bulk")
async def bulk(request: Request, me: Editor, runtime: RuntimeDep) -> Response:
    """Apply one change to the selected tickets; say what was done and what was refused."""
    form = await request.form()
    ids = forms.ints(form, "ids")
    gettext = gettext_for(request, me)
    if not ids:
        return _flash(request, me, gettext("Select at least one ticket first."), 422)
    action = forms.text(form, "action") or ""
    if action == "merge":
        return await _bulk_merge(request, me, runtime, sorted(ids))
    changes = _bulk_changes(action, form)
    result: BulkResult = await runtime.db.write(
        tickets.bulk_update, me, BulkUpdate(ids=ids, changes=changes)
    )
    count = len(result.updated)
    ngettext = ngettext_for(request, me)
    message = ngettext("%(num)d ticket updated.", "%(num)d tickets updated.", count) % {
        "num": count
    }
    return _flash(request, me, message, 200, result.errors, refresh=True)


def _bulk_changes(action: str, form: Any) -> TicketUpdate:
    value = forms.text(form, action) if action else None
    if action == "assignee_id":
        assignee = None if value in (None, "none") else int(value) if value.isdigit() else value
        return forms.parse(TicketUpdate, {"assignee_id": assignee})
    if action in ("status", "priority"):
        return forms.parse(TicketUpdate, {action: value})
    if action in ("add_tags", "remove_tags"):
        return forms.parse(TicketUpdate, {action: forms.split_list(value)})
    return forms.parse(TicketUpdate, {"action": action})


async def _bulk_merge(request: Request, me: Principal, runtime: Any, ids: list[int]) -> Response:
    gettext = gettext_for(request, me)
    if len(ids) < 2:
        return _flash(request, me, gettext("Select two or more tickets to merge."), 422)
    target, sources = ids[0], ids[1:]
    await runtime.db.write(relations.merge_tickets, me, target, MergeRequest(source_ids=sources))
    message = gettext("Merged %(sources)s into #%(target)d.") % {
        "sources": ", ".join(f"#{i}" for i in sources),
        "target": target,
    }
    return _flash(request, me, message, 200, refresh=True)


def _flash(
    request: Request,
    me: Principal,
    message: str,
    status: int,
    errors: list[Any] | None = None,
    *,
    refresh: bool = False,
) -> HTMLResponse:
    headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
    if refresh:
        headers["HX-Trigger"] = "inbox-changed"
    context = {"me": me, "message": message, "errors": errors or [], "status": status}
    return render(request, "_flash.html", context, status=status, headers=headers)
