"""HTML routes of one ticket: the timeline, the composer, the side panel, relations.

Edits carry the ticket's version; saving over someone else's change is refused (409) with
a message and a way to reload, never applied silently."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from kefu.accounts import service as accounts
from kefu.accounts.schemas import TeamRead, UserRead
from kefu.canned import service as canned
from kefu.customers.web import CustomerPanel, panel_data
from kefu.db import Ctx
from kefu.fields import service as fields
from kefu.fields.schemas import FieldDefinitionRead
from kefu.kit.errors import Conflict, Invalid
from kefu.kit.pagination import encode_cursor
from kefu.security.deps import RuntimeDep
from kefu.security.permissions import Action, Principal, Role
from kefu.tickets import conversation, relations
from kefu.tickets import service as tickets
from kefu.tickets.schemas import (
    LinkCreate,
    MergeRequest,
    MessageCreate,
    MessageRead,
    SplitRequest,
    TicketCreate,
    TicketEventRead,
    TicketRead,
    TicketUpdate,
)
from kefu.tickets.service import FIELD_ENGINEER_FIELDS
from kefu.web import forms, slots
from kefu.web.auth import allowed
from kefu.web.render import gettext_for, render
from kefu.web.widgets import draft_of, field_values

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Principal, Depends(allowed(Action.ticket_read))]
Editor = Annotated[Principal, Depends(allowed(Action.ticket_write))]
CannedUser = Annotated[Principal, Depends(allowed(Action.canned_read))]
MESSAGES_PAGE = 500
# Changes shown in the conversation itself; the history tab shows every one.
TIMELINE_FIELDS = {"status", "priority", "assignee_id", "team_id", "tags", "type", "subject"}
TIMELINE_KINDS = {"merged_into", "merged_from", "split_from", "split_to", "linked", "unlinked"}


@dataclass
class Item:
    """One entry of the timeline: a message, or a system event."""

    message: MessageRead | None = None
    event: TicketEventRead | None = None

    @property
    def at(self) -> Any:
        return self.message.created_at if self.message else self.event.created_at  # type: ignore[union-attr]


def on_timeline(event: TicketEventRead) -> bool:
    return event.kind in TIMELINE_KINDS or (
        event.kind == "changed"
        and (event.field in TIMELINE_FIELDS or (event.field or "").startswith("custom_fields."))
    )


def timeline(messages: list[MessageRead], events: list[TicketEventRead]) -> list[Item]:
    items = [Item(message=m) for m in messages] + [Item(event=e) for e in events if on_timeline(e)]
    return sorted(items, key=lambda i: (i.at, 0 if i.message else 1))


@dataclass
class Directory:
    """Names for ids shown on the page (assignees, teams, custom fields)."""

    users: list[UserRead]
    teams: list[TeamRead]
    definitions: list[FieldDefinitionRead]

    def user(self, value: Any) -> str:
        return next((u.name for u in self.users if str(u.id) == str(value)), str(value or ""))

    def team(self, value: Any) -> str:
        return next((t.name for t in self.teams if str(t.id) == str(value)), str(value or ""))

    @property
    def staff(self) -> list[UserRead]:
        return [u for u in self.users if u.is_active and u.role != "field_engineer"]


def directory(ctx: Ctx) -> Directory:
    definitions = [d for d in fields.list_definitions(ctx, "ticket") if d.active]
    return Directory(accounts.list_users(ctx), accounts.list_teams(ctx), definitions)


@dataclass
class TicketPage:
    ticket: TicketRead
    items: list[Item]
    more_cursor: str | None
    names: Directory
    panel: CustomerPanel
    slot_data: dict[str, dict[int, Any]] = field(default_factory=dict)


def page_data(ctx: Ctx, me: Principal, ticket_id: int) -> TicketPage:
    ticket = tickets.get_ticket(ctx, me, ticket_id)
    messages = conversation.list_messages(ctx, me, ticket_id, None, MESSAGES_PAGE)
    events = conversation.history(ctx, me, ticket_id, None, 2 * MESSAGES_PAGE).items
    return TicketPage(
        ticket=ticket,
        items=timeline(messages.items, events),
        more_cursor=messages.next_cursor,
        names=directory(ctx),
        panel=panel_data(ctx, me, ticket.requester.id),
        slot_data=slots.load("ticket_side", ctx, me, [ticket_id]),
    )


def new_items(
    ctx: Ctx, me: Principal, ticket_id: int, after_message: int, after_event: int
) -> tuple[list[Item], Directory]:
    messages = conversation.list_messages(
        ctx, me, ticket_id, encode_cursor([after_message]) if after_message else None, MESSAGES_PAGE
    )
    cursor = encode_cursor([after_event]) if after_event else None
    events = conversation.history(ctx, me, ticket_id, cursor, MESSAGES_PAGE).items
    return timeline(messages.items, events), directory(ctx)


def side_data(
    ctx: Ctx, me: Principal, ticket_id: int
) -> tuple[TicketRead, Directory, dict[str, dict[int, Any]]]:
    ticket = tickets.get_ticket(ctx, me, ticket_id)
    return ticket, directory(ctx), slots.load("ticket_side", ctx, me, [ticket_id])


# -- pages -------------------------------------------------------------------------------
@router.get("/tickets/new")
async def new_ticket_page(request: Request, me: Editor, runtime: RuntimeDep) -> HTMLResponse:
    names = await runtime.db.read(directory)
    return render(request, "tickets/new.html", {"me": me, "names": names, "section": "inbox"})


@router.post("/tickets/new")
async def create_ticket(request: Request, me: Editor, runtime: RuntimeDep) -> Response:
    form = await request.form()
    requester: dict[str, Any] = {"name": forms.text(form, "requester_name") or ""}
    contact = forms.text(form, "requester") or ""
    requester["email" if "@" in contact else "phone"] = contact
    data = {
        "subject": forms.text(form, "subject") or "",
        "body": forms.text(form, "body") or "",
        "requester": requester,
        "priority": forms.text(form, "priority") or "normal",
        "channel": forms.text(form, "channel") or "phone",
        "assignee_id": forms.optional_int(form, "assignee_id"),
        "team_id": forms.optional_int(form, "team_id"),
        "tags": forms.split_list(forms.text(form, "tags")),
    }
    ticket = await runtime.db.write(tickets.create_ticket, me, forms.parse(TicketCreate, data))
    return forms.redirect(f"/tickets/{ticket.id}", htmx=forms.is_htmx(request))


@router.get("/tickets/{ticket_id}")
async def ticket_page(
    request: Request, me: Viewer, runtime: RuntimeDep, ticket_id: int
) -> HTMLResponse:
    page = await runtime.db.read(page_data, me, ticket_id)
    context = {
        "me": me,
        "page": page,
        "ticket": page.ticket,
        "names": page.names,
        "section": "inbox",
    }
    return render(request, "tickets/ticket.html", context)


@router.get("/tickets/{ticket_id}/timeline")
async def timeline_items(
    request: Request,
    me: Viewer,
    runtime: RuntimeDep,
    ticket_id: int,
    after_message: int = 0,
    after_event: int = 0,
) -> HTMLResponse:
    """Timeline entries newer than the ones on the page (live updates)."""
    items, names = await runtime.db.read(new_items, me, ticket_id, after_message, after_event)
    return render(
        request,
        "tickets/_timeline_items.html",
        {"me": me, "items": items, "names": names, "ticket_id": ticket_id},
    )


@router.get("/tickets/{ticket_id}/history")
async def history(
    request: Request, me: Viewer, runtime: RuntimeDep, ticket_id: int
) -> HTMLResponse:
    page = await runtime.db.read(conversation.history, me, ticket_id, None, 500)
    names = await runtime.db.read(directory)
    return render(
        request, "tickets/_history.html", {"me": me, "events": page.items, "names": names}
    )


@router.get("/tickets/{ticket_id}/side")
async def side(request: Request, me: Viewer, runtime: RuntimeDep, ticket_id: int) -> HTMLResponse:
    ticket, names, slot_data = await runtime.db.read(side_data, me, ticket_id)
    return _side(request, me, ticket, names, slot_data)


def _side(
    request: Request,
    me: Principal,
    ticket: TicketRead,
    names: Directory,
    slot_data: dict[str, dict[int, Any]],
    *,
    errors: dict[str, str] | None = None,
    draft: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "me": me,
        "ticket": ticket,
        "names": names,
        "slot_data": slot_data,
        "errors": errors or {},
        "draft": draft,
        "oob": True,
    }
    return render(request, "tickets/_side.html", context, status=status)


# -- edits -------------------------------------------------------------------------------
def side_update(
    form: FormData, ticket: TicketRead, names: Directory, me: Principal
) -> TicketUpdate:
    data: dict[str, Any] = {
        "status": forms.text(form, "status") or ticket.status,
        "priority": forms.text(form, "priority") or ticket.priority,
        "type": forms.text(form, "type"),
        "category": forms.text(form, "category"),
        "team_id": forms.optional_int(form, "team_id"),
        "assignee_id": forms.optional_int(form, "assignee_id"),
        "tags": forms.split_list(forms.text(form, "tags")),
        "custom_fields": field_values(form, names.definitions, ticket.custom_fields),
    }
    if forms.text(form, "subject"):
        data["subject"] = forms.text(form, "subject")
    if me.role == Role.field_engineer:  # their work order's state, tags and fields only
        data = {k: v for k, v in data.items() if k in FIELD_ENGINEER_FIELDS}
    return forms.parse(TicketUpdate, data)


@router.post("/tickets/{ticket_id}/fields")
async def save_fields(
    request: Request, me: Editor, runtime: RuntimeDep, ticket_id: int
) -> Response:
    form = await request.form()
    ticket, names, slot_data = await runtime.db.read(side_data, me, ticket_id)
    version = forms.optional_int(form, "version")
    try:
        changes = side_update(form, ticket, names, me)
        saved = await runtime.db.write(tickets.update_ticket, me, ticket_id, changes, version)
    except Conflict:
        gettext = gettext_for(request, me)
        message = gettext(
            "Not saved: someone else changed this ticket while you were editing. "
            "Reload the panel to see their change, then apply yours again."
        )
        context = {"me": me, "message": message, "ticket": ticket, "reload": True}
        headers = {"HX-Retarget": "#side-alert", "HX-Reswap": "innerHTML"}
        return render(request, "tickets/_side_alert.html", context, status=409, headers=headers)
    except Invalid as exc:
        errors = {str(e.loc[-1]): e.msg for e in exc.errors}
        return _side(
            request, me, ticket, names, slot_data, errors=errors, draft=draft_of(form), status=422
        )
    response = _side(request, me, saved, names, slot_data)
    response.headers["HX-Trigger"] = "ticket-saved"
    return response


@router.post("/tickets/{ticket_id}/messages")
async def add_message(
    request: Request, me: Editor, runtime: RuntimeDep, ticket_id: int
) -> Response:
    form = await request.form()
    note = forms.text(form, "mode") == "note"
    data = {
        "body": forms.text(form, "body") or "",
        "visibility": "note" if note else "public",
        "attachment_ids": forms.ints(form, "attachment_ids"),
        "status": forms.text(form, "then_status"),
    }
    await runtime.db.write(
        conversation.add_message, me, ticket_id, forms.parse(MessageCreate, data)
    )
    context = {"me": me, "ticket_id": ticket_id, "mode": "note" if note else "reply"}
    return render(
        request, "tickets/_composer.html", context, headers={"HX-Trigger": "ticket-saved"}
    )


@router.get("/tickets/{ticket_id}/canned")
async def canned_picker(
    request: Request, me: CannedUser, runtime: RuntimeDep, ticket_id: int, q: str = ""
) -> HTMLResponse:
    replies = await runtime.db.read(canned.list_replies, q.strip() or None, 30)
    ordered = sorted(replies, key=lambda r: (r.language not in (None, me.language), r.title))
    return render(
        request,
        "tickets/_canned.html",
        {"me": me, "replies": ordered, "ticket_id": ticket_id, "q": q},
    )


@router.post("/tickets/{ticket_id}/canned/{reply_id}")
async def canned_insert(
    request: Request, me: CannedUser, runtime: RuntimeDep, ticket_id: int, reply_id: int
) -> HTMLResponse:
    """The composer's text with the canned reply, placeholders filled, added at the end."""
    form = await request.form()
    filled = await runtime.db.read(canned.fill_reply, me, reply_id, ticket_id)
    body = forms.text(form, "body")
    text = f"{body}\n\n{filled.text}" if body else filled.text
    return render(request, "tickets/_composer_body.html", {"me": me, "body": text})


# -- relations ---------------------------------------------------------------------------
@router.post("/tickets/{ticket_id}/merge")
async def merge(request: Request, me: Editor, runtime: RuntimeDep, ticket_id: int) -> Response:
    """Merge another ticket into this one, or this one into another."""
    form = await request.form()
    other = forms.optional_int(form, "other_id")
    if other is None:
        gettext = gettext_for(request, me)
        raise Invalid([], gettext("Give the number of the other ticket."))
    into_other = forms.text(form, "direction") == "into_other"
    target, source = (other, ticket_id) if into_other else (ticket_id, other)
    await runtime.db.write(relations.merge_tickets, me, target, MergeRequest(source_ids=[source]))
    return forms.redirect(f"/tickets/{target}", htmx=forms.is_htmx(request))


@router.post("/tickets/{ticket_id}/split/{message_id}")
async def split(
    request: Request, me: Editor, runtime: RuntimeDep, ticket_id: int, message_id: int
) -> Response:
    created = await runtime.db.write(
        relations.split_ticket, me, ticket_id, SplitRequest(message_id=message_id)
    )
    return forms.redirect(f"/tickets/{created.id}", htmx=forms.is_htmx(request))


@router.post("/tickets/{ticket_id}/links")
async def link(request: Request, me: Editor, runtime: RuntimeDep, ticket_id: int) -> Response:
    form = await request.form()
    data = forms.parse(
        LinkCreate,
        {
            "other_id": forms.optional_int(form, "other_id"),
            "kind": forms.text(form, "kind") or "related",
        },
    )
    await runtime.db.write(relations.link_tickets, me, ticket_id, data)
    return await side(request, me, runtime, ticket_id)


@router.post("/tickets/{ticket_id}/links/{other_id}/delete")
async def unlink(
    request: Request, me: Editor, runtime: RuntimeDep, ticket_id: int, other_id: int
) -> Response:
    await runtime.db.write(relations.unlink_tickets, me, ticket_id, other_id)
    return await side(request, me, runtime, ticket_id)
