"""Tickets: create, read, list, change, delete, bulk change. Services never commit.

``actor`` is the principal acting; ``None`` means kefu itself (a channel, a rule, the
worker), which sees every ticket and is recorded as "system" in the history.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from kefu.accounts import service as accounts
from kefu.customers import service as customers
from kefu.customers.models import Customer
from kefu.db import Ctx, read_json
from kefu.fields import service as fields
from kefu.kit.errors import Conflict, DomainError, FieldError, Forbidden, Invalid, NotFound, invalid
from kefu.kit.html import html_to_text, sanitize_html, text_to_html
from kefu.kit.pagination import cursor_int, decode_cursor, encode_cursor
from kefu.kit.text import base_subject
from kefu.kit.time import as_utc
from kefu.outbox import service as outbox
from kefu.security.permissions import Principal, Role, can_see_ticket
from kefu.sla import service as sla
from kefu.tickets import list_repository as lists
from kefu.tickets import repository as repo
from kefu.tickets.attachments import attach_uploads
from kefu.tickets.models import (
    PRIORITY_RANK,
    RANK_PRIORITY,
    AuthorType,
    DeliveryStatus,
    LinkKind,
    Priority,
    Status,
    Ticket,
    Visibility,
)
from kefu.tickets.schemas import (
    BulkError,
    BulkResult,
    BulkUpdate,
    LinkRead,
    PersonRef,
    RequesterIn,
    TeamRef,
    TicketCreate,
    TicketPage,
    TicketRead,
    TicketUpdate,
)

FINAL = (Status.closed,)
FIELD_ENGINEER_FIELDS = {"status", "tags", "add_tags", "remove_tags", "custom_fields"}


# -- history helpers -----------------------------------------------------------------------
# Who "kefu itself" is on the history while a rule applies its actions: ("rule", its id).
automation_actor: ContextVar[tuple[str, int | None]] = ContextVar(
    "automation_actor", default=("system", None)
)


def actor_of(actor: Principal | None) -> tuple[str, int | None]:
    return ("user", actor.user_id) if actor is not None else ("system", None)


def history_row(
    ctx: Ctx,
    ticket_id: int,
    actor: Principal | None,
    kind: str,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
) -> dict[str, Any]:
    actor_type, actor_id = actor_of(actor) if actor is not None else automation_actor.get()
    return {
        "ticket_id": ticket_id,
        "actor_type": actor_type,
        "actor_id": actor_id,
        "kind": kind,
        "field": field,
        "old_value": _as_text(old),
        "new_value": _as_text(new),
        "created_at": ctx.now(),
    }


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


# -- loading with permission ---------------------------------------------------------------
def load_ticket(
    ctx: Ctx, actor: Principal | None, ticket_id: int, *, write: bool = False
) -> Ticket:
    """The ticket if the actor may see it; 404 otherwise, so hidden tickets stay hidden."""
    ticket = repo.get_ticket(ctx.session, ticket_id)
    if ticket is None or not _visible(ctx, actor, ticket):
        raise NotFound("Ticket", ticket_id)
    if write and ticket.status in FINAL:
        reason = f" (merged into #{ticket.merged_into_id})" if ticket.merged_into_id else ""
        raise Conflict(f"Ticket #{ticket_id} is closed{reason}; open a follow-up ticket instead")
    return ticket


@dataclass(frozen=True, slots=True)
class TicketHead:
    """The columns of a ticket that a message decides on, read without the ORM object."""

    id: int
    status: str
    requester_id: int
    team_id: int | None
    team_private: bool
    assignee_id: int | None
    channel: str
    merged_into_id: int | None
    first_responded_at: datetime | None


def ticket_head(
    ctx: Ctx, actor: Principal | None, ticket_id: int, *, write: bool = False
) -> TicketHead:
    """``load_ticket``'s checks (404 when hidden, 409 when closed for a write) on one Core
    row: for the paths that, most of the time, change nothing on the ticket but
    ``updated_at`` (``touch_ticket``); the ORM object is loaded only when they do."""
    loaded = repo.loaded_ticket(ctx.session, ticket_id)
    if loaded is not None:  # this transaction has it, maybe changed: it is the truth
        ticket = load_ticket(ctx, actor, ticket_id, write=write)
        private = repo.team_is_private(ctx.session, ticket.team_id)
        return TicketHead(
            ticket.id,
            ticket.status,
            ticket.requester_id,
            ticket.team_id,
            private,
            ticket.assignee_id,
            ticket.channel,
            ticket.merged_into_id,
            ticket.first_responded_at,
        )
    row = repo.head_of(ctx.session, ticket_id)
    if row is None:
        raise NotFound("Ticket", ticket_id)
    head = TicketHead(row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6], row[7], row[8])
    if actor is not None and not (
        actor.sees_all_tickets
        or can_see_ticket(actor, head.team_id, head.team_private, head.assignee_id)
    ):
        raise NotFound("Ticket", ticket_id)
    if write and head.status in FINAL:
        reason = f" (merged into #{head.merged_into_id})" if head.merged_into_id else ""
        raise Conflict(f"Ticket #{ticket_id} is closed{reason}; open a follow-up ticket instead")
    return head


def touch_ticket(ctx: Ctx, ticket_id: int) -> None:
    """A message changed nothing on the ticket but its ``updated_at``."""
    repo.touch_ticket(ctx.session, ticket_id, ctx.now())


def _visible(ctx: Ctx, actor: Principal | None, ticket: Ticket) -> bool:
    if actor is None or actor.sees_all_tickets:
        return True
    private = repo.team_is_private(ctx.session, ticket.team_id)
    return can_see_ticket(actor, ticket.team_id, private, ticket.assignee_id)


def _may_see(actor: Principal | None, row: lists.Row) -> bool:
    """``_visible`` for a ``lists.summary_select`` row, which has the team's privacy."""
    if actor is None:
        return True
    return can_see_ticket(actor, row["team_id"], bool(row["team_private"]), row["assignee_id"])


def require_visible(ctx: Ctx, actor: Principal | None, ticket_id: int) -> None:
    """``load_ticket``'s 404 for reads that need no ORM ticket: one small query."""
    access = repo.access_of(ctx.session, ticket_id)
    if access is None or (actor is not None and not can_see_ticket(actor, *access)):
        raise NotFound("Ticket", ticket_id)


# -- reads ---------------------------------------------------------------------------------
def get_ticket(ctx: Ctx, actor: Principal | None, ticket_id: int) -> TicketRead:
    rows = lists.summary_rows(ctx.session, [ticket_id])
    if not rows or not _may_see(actor, rows[0]):
        raise NotFound("Ticket", ticket_id)
    links = [
        LinkRead(
            id=link.id,
            other_id=link.other_id if link.ticket_id == ticket_id else link.ticket_id,
            kind=LinkKind(link.kind),
            direction="outgoing" if link.ticket_id == ticket_id else "incoming",
            created_at=link.created_at,
        )
        for link in repo.links_of(ctx.session, ticket_id)
    ]
    return TicketRead.model_validate(
        {
            **read_json(rows[0]["item"]),
            "follower_ids": repo.followers_of(ctx.session, ticket_id),
            "links": links,
            "message_count": repo.message_count(ctx.session, ticket_id),
            "sla": sla.ticket_clocks(ctx, ticket_id),
        }
    )


def list_tickets(
    ctx: Ctx,
    actor: Principal | None,
    flt: repo.TicketFilter,
    *,
    sort: str = "-created_at",
    cursor: str | None = None,
    limit: int = 50,
) -> TicketPage:
    return TicketPage.model_validate_json(
        list_json(ctx, actor, flt, sort=sort, cursor=cursor, limit=limit)
    )


def list_json(
    ctx: Ctx,
    actor: Principal | None,
    flt: repo.TicketFilter,
    *,
    sort: str = "-created_at",
    cursor: str | None = None,
    limit: int = 50,
) -> bytes:
    """One page as the JSON of a ``TicketPage``: the database writes the items, so they go
    out as it wrote them."""
    if sort.lstrip("-") not in lists.SORTS:
        raise invalid(
            ["query", "sort"], f"sort by one of {', '.join(lists.SORTS)} (prefix - for descending)"
        )
    criteria = _criteria(ctx, actor, flt)
    after = _after(cursor, sort) if cursor else None
    page = lists.list_page(ctx.session, criteria, sort, after, limit + 1)
    more = len(page.items) > limit
    next_cursor = encode_cursor(list(page.keys[limit - 1])) if more else None
    items = b",".join(page.items[:limit])
    return b'{"items":[' + items + b'],"next_cursor":' + orjson.dumps(next_cursor) + b"}"


def count_tickets(
    ctx: Ctx, actor: Principal | None, flt: repo.TicketFilter, cap: int | None = None
) -> int:
    """How many tickets match; with ``cap``, counting stops there (the inbox shows "999+")."""
    criteria = _criteria(ctx, actor, flt)
    if cap is not None:
        return lists.count_capped(ctx.session, criteria, cap)
    return lists.count_matching(ctx.session, criteria)


def _criteria(ctx: Ctx, actor: Principal | None, flt: repo.TicketFilter) -> lists.Criteria:
    dialect = ctx.session.get_bind().dialect.name
    criteria = lists.filter_criteria(flt, dialect)
    for key, raw in flt.custom.items():
        kind, value = fields.filter_value(ctx, "ticket", key, raw, ["query", "custom_field"])
        lists.add_custom_field(criteria, key, kind, value, dialect)
    if actor is not None:
        lists.add_visibility(criteria, actor)
    return criteria


def _after(cursor: str, sort: str) -> tuple[Any, int]:
    value, ticket_id = decode_cursor(cursor, 2)
    try:
        if sort.lstrip("-") in ("created_at", "updated_at"):
            return as_utc(datetime.fromisoformat(value)), cursor_int(ticket_id)
        return cursor_int(value), cursor_int(ticket_id)
    except (TypeError, ValueError) as exc:
        raise invalid(["query", "cursor"], "does not fit the chosen sort") from exc


# -- create --------------------------------------------------------------------------------
def resolve_requester(ctx: Ctx, requester: RequesterIn) -> tuple[int, str, str | None]:
    """(customer id, stored name, email shown on reads) for the requester, created when
    unknown."""
    if requester.id is not None:
        customer = _requester_by_id(ctx, requester.id, ["body", "requester", "id"])
        return customer.id, customer.name, _email_of(ctx, customer.id)
    kind, value = ("email", requester.email) if requester.email else ("phone", requester.phone)
    assert value is not None
    contact = customers.resolve_contact(ctx, kind, value, requester.name)
    return contact.id, contact.name, contact.email


def _email_of(ctx: Ctx, customer_id: int) -> str | None:
    return repo.emails_of(ctx.session, [customer_id]).get(customer_id)


def _requester_by_id(ctx: Ctx, customer_id: int, loc: list[str | int]) -> Customer:
    """A reference in the body to a missing customer is bad input (422), not a 404."""
    try:
        return customers.require_customer(ctx, customer_id)
    except NotFound as exc:
        raise invalid(loc, f"no customer with id {customer_id}") from exc


def create_ticket(
    ctx: Ctx,
    actor: Principal | None,
    data: TicketCreate,
    *,
    requester: customers.Contact | None = None,
) -> TicketRead:
    """``requester``: the customer ``data.requester`` names, when the caller resolved it in
    this unit of work (a channel's sender), so it is not read again."""
    if requester is None:
        requester_id, requester_name, email = resolve_requester(ctx, data.requester)
    else:
        requester_id, requester_name, email = requester.id, requester.name, requester.email
    if data.assignee_id is None and data.team_id is not None:
        # a channel's new ticket for its team (every chat's first message): one Core read
        assignee_name, team_name = None, repo.team_name(ctx.session, data.team_id)
        if team_name is None:
            raise invalid(["body", "team_id"], f"no team with id {data.team_id}")
    else:
        assignee_name, team_name = accounts.describe_assignment(ctx, data.assignee_id, data.team_id)
    custom = fields.clean_values(ctx, "ticket", data.custom_fields, "custom_fields")
    custom = {k: v for k, v in custom.items() if v is not None}
    if data.status is Status.solved:
        _require_fields_to_solve(ctx, custom)
    if data.follower_ids:
        accounts.require_active_users(ctx, data.follower_ids, "follower_ids")
    now = ctx.now()
    ticket_id = repo.insert_ticket(
        ctx.session,
        {
            "subject": data.subject,
            "status": data.status,
            "priority": PRIORITY_RANK[data.priority],
            "type": data.type,
            "category": data.category,
            "channel": data.channel,
            "language": data.language,
            "requester_id": requester_id,
            "assignee_id": data.assignee_id,
            "team_id": data.team_id,
            "custom_fields": custom,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "solved_at": now if data.status is Status.solved else None,
        },
    )
    repo.add_tags(ctx.session, ticket_id, data.tags)
    if data.follower_ids:
        repo.set_followers(ctx.session, ticket_id, data.follower_ids)
    repo.insert_events(
        ctx.session, [history_row(ctx, ticket_id, actor, "created", "status", None, data.status)]
    )
    ctx.emit(
        "ticket.created",
        ticket_id=ticket_id,
        requester_id=requester_id,
        channel=data.channel,
        priority=data.priority.value,
        status=data.status.value,
        team_id=data.team_id,
        assignee_id=data.assignee_id,
        actor_id=actor_of(actor)[1],
    )
    first = _first_message(ctx, actor, ticket_id, requester_id, data)
    repo.index_texts(ctx.session, ticket_id, [(None, data.subject), *first])
    clocks = sla.ticket_created(ctx, ticket_id)  # same transaction: no ticket without clocks
    return TicketRead(
        id=ticket_id,
        subject=data.subject,
        status=data.status,
        priority=data.priority,
        type=data.type,
        category=data.category,
        channel=data.channel,
        language=data.language,
        requester=PersonRef(id=requester_id, name=requester_name, email=email),
        assignee=PersonRef(id=data.assignee_id, name=assignee_name or "")
        if data.assignee_id
        else None,
        team=TeamRef(id=data.team_id, name=team_name or "") if data.team_id else None,
        tags=data.tags,
        custom_fields=custom,
        version=1,
        merged_into_id=None,
        created_at=now,
        updated_at=now,
        first_responded_at=None,
        solved_at=now if data.status is Status.solved else None,
        closed_at=None,
        follower_ids=sorted(set(data.follower_ids)),
        message_count=1 if _has_first_message(data) else 0,
        sla=clocks,
    )


def _has_first_message(data: TicketCreate) -> bool:
    return bool(data.body.strip() or (data.body_html or "").strip() or data.attachment_ids)


def _first_message(
    ctx: Ctx, actor: Principal | None, ticket_id: int, requester_id: int, data: TicketCreate
) -> list[tuple[int, str]]:
    """The first message stored; its (id, text) for the search index, if there is one."""
    if not _has_first_message(data):
        return []
    body_text, body_html = message_bodies(data.body, data.body_html)
    message_id = repo.insert_message(
        ctx.session,
        {
            "ticket_id": ticket_id,
            "visibility": Visibility.public,
            "author_type": AuthorType.customer,
            "author_customer_id": requester_id,
            "channel": data.channel,
            "body_text": body_text,
            "body_html": body_html,
            "delivery_status": DeliveryStatus.received,
            "created_at": ctx.now(),
        },
    )
    attach_uploads(ctx, actor, data.attachment_ids, ticket_id, message_id)
    ctx.emit(
        "message.created",
        ticket_id=ticket_id,
        message_id=message_id,
        author_type=AuthorType.customer.value,
        visibility=Visibility.public.value,
        channel=data.channel,
    )
    return [(message_id, body_text)]


def message_bodies(text: str, html: str | None) -> tuple[str, str]:
    """(plain text, sanitised HTML) from whichever the caller gave."""
    if html and html.strip():
        clean = sanitize_html(html)
        return (text.strip() or html_to_text(clean)), clean
    return text.strip(), text_to_html(text)


# -- update --------------------------------------------------------------------------------
Change = tuple[str, Any, Any]


def update_ticket(
    ctx: Ctx,
    actor: Principal | None,
    ticket_id: int,
    data: TicketUpdate,
    expected_version: int | None = None,
) -> TicketRead:
    ticket = load_ticket(ctx, actor, ticket_id, write=True)
    if expected_version is not None and expected_version != ticket.version:
        raise Conflict(
            f"Ticket #{ticket_id} was changed by someone else (version {ticket.version}, "
            f"you edited version {expected_version}); reload and apply your change again"
        )
    _check_field_engineer(actor, data)
    changes = apply_update(ctx, actor, ticket, data)
    if changes:
        record_changes(ctx, actor, ticket, changes)
    return get_ticket(ctx, actor, ticket_id)


def _check_field_engineer(actor: Principal | None, data: TicketUpdate) -> None:
    if actor is not None and actor.role == Role.field_engineer:
        extra = data.model_fields_set - FIELD_ENGINEER_FIELDS
        if extra:
            raise Forbidden(f"Field engineers may not change {', '.join(sorted(extra))}")


def record_changes(
    ctx: Ctx, actor: Principal | None, ticket: Ticket, changes: list[Change]
) -> None:
    ticket.version += 1
    ticket.updated_at = ctx.now()
    repo.insert_events(
        ctx.session,
        [
            history_row(ctx, ticket.id, actor, "changed", name, old, new)
            for name, old, new in changes
        ],
    )
    sla.ticket_changed(ctx, ticket, [name for name, _, _ in changes])
    ctx.emit(
        "ticket.updated",
        ticket_id=ticket.id,
        actor_id=actor_of(actor)[1],
        changes=[{"field": n, "old": o, "new": v} for n, o, v in changes],
    )


def record_history(
    ctx: Ctx, actor: Principal | None, entries: list[tuple[int, str, str | None, Any, Any]]
) -> None:
    """History rows written for other domains: (ticket id, kind, field, old, new), e.g. an
    SLA breach or a rule's firing."""
    rows = [history_row(ctx, t, actor, kind, f, old, new) for t, kind, f, old, new in entries]
    if rows:
        repo.insert_events(ctx.session, rows)


def status_since(ctx: Ctx, ticket_ids: list[int]) -> dict[int, datetime]:
    """When each ticket entered its current status (time automations count from it)."""
    return repo.status_changed_at(ctx.session, ticket_ids)


def apply_update(
    ctx: Ctx, actor: Principal | None, ticket: Ticket, data: TicketUpdate
) -> list[Change]:
    given = data.model_dump(exclude_unset=True)
    changes = _apply_plain(ticket, given)
    changes += _apply_assignment(ctx, ticket, given)
    if "requester_id" in given and given["requester_id"] is not None:
        changes += _apply_requester(ctx, ticket, given["requester_id"])
    if given.get("custom_fields"):
        changes += _apply_custom(ctx, ticket, given["custom_fields"])
    changes += _apply_tags(ctx, ticket, data)
    if "follower_ids" in given and given["follower_ids"] is not None:
        changes += _apply_followers(ctx, ticket, given["follower_ids"])
    if "status" in given and given["status"] is not None:
        changes += apply_status(ctx, ticket, Status(given["status"]))
    return changes


def _apply_plain(ticket: Ticket, given: dict[str, Any]) -> list[Change]:
    changes: list[Change] = []
    for name in ("subject", "type", "category", "language"):
        if name in given and (given[name] is not None or name != "subject"):
            old, new = getattr(ticket, name), given[name]
            if old != new:
                setattr(ticket, name, new)
                changes.append((name, old, new))
    if given.get("priority") is not None:
        new_rank = PRIORITY_RANK[Priority(given["priority"])]
        if new_rank != ticket.priority:
            changes.append(("priority", RANK_PRIORITY[ticket.priority].value, given["priority"]))
            ticket.priority = new_rank
    return changes


def _apply_assignment(ctx: Ctx, ticket: Ticket, given: dict[str, Any]) -> list[Change]:
    if "assignee_id" not in given and "team_id" not in given:
        return []
    assignee_id = given.get("assignee_id", ticket.assignee_id)
    team_id = given.get("team_id", ticket.team_id)
    if "team_id" in given and "assignee_id" not in given and assignee_id is not None:
        # Moving to another team keeps the assignee only if they belong to it.
        try:
            accounts.describe_assignment(ctx, assignee_id, team_id)
        except DomainError:
            assignee_id = None
    accounts.describe_assignment(ctx, assignee_id, team_id)
    changes: list[Change] = []
    for name, new in (("team_id", team_id), ("assignee_id", assignee_id)):
        old = getattr(ticket, name)
        if old != new:
            setattr(ticket, name, new)
            changes.append((name, old, new))
    return changes


def _apply_requester(ctx: Ctx, ticket: Ticket, requester_id: int) -> list[Change]:
    _requester_by_id(ctx, requester_id, ["body", "requester_id"])
    if requester_id == ticket.requester_id:
        return []
    old, ticket.requester_id = ticket.requester_id, requester_id
    return [("requester_id", old, requester_id)]


def _apply_custom(ctx: Ctx, ticket: Ticket, values: dict[str, Any]) -> list[Change]:
    cleaned = fields.clean_values(ctx, "ticket", values, "custom_fields")
    current = dict(ticket.custom_fields or {})
    changes: list[Change] = []
    for key, new in cleaned.items():
        old = current.get(key)
        if old != new:
            changes.append((f"custom_fields.{key}", old, new))
            if new is None:
                current.pop(key, None)
            else:
                current[key] = new
    ticket.custom_fields = current
    return changes


def _apply_tags(ctx: Ctx, ticket: Ticket, data: TicketUpdate) -> list[Change]:
    if data.tags is None and not data.add_tags and not data.remove_tags:
        return []
    old = repo.tags_of(ctx.session, [ticket.id])[ticket.id]
    new = set(data.tags) if data.tags is not None else set(old)
    new = (new | set(data.add_tags)) - set(data.remove_tags)
    if new == set(old):
        return []
    repo.remove_tags(ctx.session, ticket.id, set(old) - new)
    repo.add_tags(ctx.session, ticket.id, sorted(new - set(old)))
    return [("tags", old, sorted(new))]


def _apply_followers(ctx: Ctx, ticket: Ticket, follower_ids: list[int]) -> list[Change]:
    accounts.require_active_users(ctx, follower_ids, "follower_ids")
    old = repo.followers_of(ctx.session, ticket.id)
    if set(old) == set(follower_ids):
        return []
    repo.set_followers(ctx.session, ticket.id, follower_ids)
    return [("follower_ids", old, sorted(set(follower_ids)))]


def apply_status(ctx: Ctx, ticket: Ticket, new: Status) -> list[Change]:
    old = Status(ticket.status)
    if new == old:
        return []
    if new is Status.new:
        raise invalid(["body", "status"], "a ticket cannot go back to new")
    if new in (Status.solved, Status.closed):
        _require_fields_to_solve(ctx, dict(ticket.custom_fields or {}))
    now = ctx.now()
    ticket.status = new
    if new is Status.solved:
        ticket.solved_at = now
    elif new is Status.closed:
        ticket.closed_at, ticket.solved_at = now, ticket.solved_at or now
    else:
        ticket.solved_at = None
    return [("status", old.value, new.value)]


def _require_fields_to_solve(ctx: Ctx, values: dict[str, Any]) -> None:
    missing = fields.missing_required(ctx, "ticket", values)
    if missing:
        errors = [FieldError(["body", "custom_fields", k], "is required to solve") for k in missing]
        raise Invalid(errors, f"Fill {', '.join(missing)} before solving the ticket")


# -- delete, bulk, customers ---------------------------------------------------------------
def message_key(message_id: int) -> str:
    """The outbox key of a message's send: queued once however often it is asked."""
    return f"message:{message_id}"


def delete_ticket(ctx: Ctx, actor: Principal | None, ticket_id: int) -> None:
    load_ticket(ctx, actor, ticket_id)
    message_ids = repo.message_ids_of(ctx.session, ticket_id)
    outbox.forget_keys(ctx, [message_key(m) for m in message_ids])
    repo.delete_ticket(ctx.session, ticket_id, message_ids)
    ctx.emit("ticket.deleted", ticket_id=ticket_id, actor_id=actor_of(actor)[1])


def bulk_update(ctx: Ctx, actor: Principal | None, data: BulkUpdate) -> BulkResult:
    """Each ticket in its own savepoint: one refusal does not undo the others."""
    _check_field_engineer(actor, data.changes)
    updated: list[int] = []
    errors: list[BulkError] = []
    for ticket_id in dict.fromkeys(data.ids):
        mark = len(ctx.events)
        try:
            with ctx.session.begin_nested():
                ticket = load_ticket(ctx, actor, ticket_id, write=True)
                changes = apply_update(ctx, actor, ticket, data.changes)
                if changes:
                    record_changes(ctx, actor, ticket, changes)
        except DomainError as exc:
            del ctx.events[mark:]
            errors.append(BulkError(id=ticket_id, status=exc.status, detail=exc.detail))
            continue
        updated.append(ticket_id)
    return BulkResult(updated=updated, errors=errors)


def move_requester(ctx: Ctx, source_customer_id: int, target_customer_id: int) -> int:
    """Customer merge: the source's tickets and messages now belong to the target."""
    return repo.move_requester(ctx.session, source_customer_id, target_customer_id)


# -- for channels ------------------------------------------------------------------------------
_LIVE = [Status.new, Status.open, Status.pending, Status.on_hold, Status.solved]


def conversation_ticket(
    ctx: Ctx, requester_id: int, channel: str, reopen_window_s: float
) -> int | None:
    """For chat-like channels: the customer's current ticket on this channel, if any. A
    solved one is continued within the window, after it a new ticket starts."""
    latest = repo.latest_ticket_of(ctx.session, requester_id, channel, list(_LIVE))
    if latest is None:
        return None
    ticket_id, status, solved_at = latest
    solved_at = solved_at if status == Status.solved else None
    if solved_at is not None and (ctx.now() - solved_at).total_seconds() > reopen_window_s:
        return None
    return ticket_id


def ticket_by_subject(ctx: Ctx, requester_id: int, subject: str, within_s: float) -> int | None:
    """Email's last resort: a recent, not closed ticket of the same requester with the same
    subject once reply prefixes are stripped."""
    wanted = base_subject(subject)
    if not wanted:
        return None
    since = ctx.now() - timedelta(seconds=within_s)
    for ticket_id, ticket_subject in repo.recent_subjects_of(ctx.session, requester_id, since, 20):
        if base_subject(ticket_subject) == wanted:
            return ticket_id
    return None


def ticket_for_replies(ctx: Ctx, ticket_id: int) -> int | None:
    """Where a reply to this ticket belongs: itself, the survivor it was merged into, or
    nowhere (closed, so the reply starts a follow-up ticket)."""
    for _ in range(10):  # merge chains are short; the bound guards against a cycle
        state = repo.ticket_state(ctx.session, ticket_id)
        if state is None:
            return None
        status, merged_into_id = state
        if status != Status.closed:
            return ticket_id
        if merged_into_id is None:
            return None
        ticket_id = merged_into_id
    return None
