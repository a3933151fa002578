"""The conversation on a ticket: messages (replies and internal notes), attachments, history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter

from kefu.channels.base import can_send, reply_channel
from kefu.db import Ctx
from kefu.kit.errors import Forbidden, NotFound, invalid
from kefu.kit.pagination import decode_id_cursor, encode_cursor
from kefu.outbox import service as outbox
from kefu.security.permissions import Principal
from kefu.sla import service as sla
from kefu.tickets import repository as repo
from kefu.tickets.attachments import attach_recorded, attach_uploads, attachment_read
from kefu.tickets.models import AuthorType, DeliveryStatus, Message, Status, Ticket, Visibility
from kefu.tickets.schemas import (
    AttachmentRead,
    HistoryPage,
    MessageCreate,
    MessagePage,
    MessageRead,
    OutboundView,
    TicketEventRead,
)
from kefu.tickets.service import (
    Change,
    TicketHead,
    apply_status,
    load_ticket,
    message_bodies,
    message_key,
    record_changes,
    require_visible,
    ticket_head,
    touch_ticket,
)

# A customer writing again wakes a ticket that was waiting on them or solved.
_REOPENED_BY_CUSTOMER = (Status.pending, Status.solved, Status.on_hold)


def add_message(
    ctx: Ctx, actor: Principal | None, ticket_id: int, data: MessageCreate
) -> MessageRead:
    head = ticket_head(ctx, actor, ticket_id, write=True)
    from_customer = data.author_type == "customer" or actor is None
    if data.status is not None and from_customer:
        raise invalid(["body", "status"], "only an agent's message can set the status")
    body_text, body_html = message_bodies(data.body, data.body_html)
    channel = data.channel or _reply_channel(ctx, head)
    outbound = not from_customer and data.visibility is Visibility.public and can_send(channel)
    values: dict[str, object] = {
        "visibility": data.visibility,
        "author_type": AuthorType.customer if from_customer else AuthorType.agent,
        "author_user_id": None if from_customer or actor is None else actor.user_id,
        "author_customer_id": head.requester_id if from_customer else None,
        "channel": channel,
        "body_text": body_text,
        "body_html": body_html,
        "delivery_status": DeliveryStatus.received
        if from_customer
        else DeliveryStatus.queued
        if outbound
        else None,
        "created_at": ctx.now(),
    }
    message_id = _insert(ctx, head.id, values)
    attach_uploads(ctx, actor, data.attachment_ids, head.id, message_id)
    if outbound:
        # Queued with the message in one transaction: it is sent if and only if it exists.
        outbox.enqueue(ctx, "channel.send", {"message_id": message_id}, key=message_key(message_id))
    if _may_change_status(head, data, from_customer):
        ticket = load_ticket(ctx, actor, head.id, write=True)
        _after_message(ctx, actor, ticket, _status_after_message(ctx, ticket, data, from_customer))
    else:
        touch_ticket(ctx, head.id)
    _announce(
        ctx,
        head.id,
        message_id,
        "customer" if from_customer else "agent",
        data.visibility.value,
        channel,
    )
    # The reply as it was written, not read back: the row holds exactly these values.
    written = Message(id=message_id, ticket_id=head.id, **values)
    return message_reads(ctx, [written], with_files=bool(data.attachment_ids))[0]


def _reply_channel(ctx: Ctx, ticket: Ticket | TicketHead) -> str:
    """Replies go out on the channel the customer last wrote on (a web form's by email)."""
    return reply_channel(repo.last_customer_channel(ctx.session, ticket.id) or ticket.channel)


def _may_change_status(head: TicketHead, data: MessageCreate, from_customer: bool) -> bool:
    """Whether ``_status_after_message`` can change anything: if not (most messages), the
    ORM ticket is not loaded and only ``updated_at`` is written."""
    if from_customer:
        return Status(head.status) in _REOPENED_BY_CUSTOMER
    public = data.visibility is Visibility.public
    return (
        data.status is not None
        or (public and head.first_responded_at is None)
        or (public and head.status == Status.new)
    )


def _insert(ctx: Ctx, ticket_id: int, values: dict[str, object]) -> int:
    message_id = repo.insert_message(
        ctx.session, {"ticket_id": ticket_id, "created_at": ctx.now(), **values}
    )
    repo.index_text(ctx.session, ticket_id, message_id, str(values.get("body_text", "")))
    return message_id


def _after_message(
    ctx: Ctx, actor: Principal | None, ticket: Ticket, changes: list[Change]
) -> None:
    if changes:
        record_changes(ctx, actor, ticket, changes)
    else:
        ticket.updated_at = ctx.now()


def _announce(
    ctx: Ctx,
    ticket_id: int,
    message_id: int,
    author: str,
    visibility: str,
    channel: str,
    automated: bool = False,
) -> None:
    sla.message_added(ctx, ticket_id, author, visibility)
    ctx.emit(
        "message.created",
        ticket_id=ticket_id,
        message_id=message_id,
        author_type=author,
        visibility=visibility,
        channel=channel,
        **({"automated": True} if automated else {}),  # an auto-reply: never answer it
    )


def record_customer_message(
    ctx: Ctx,
    ticket_id: int,
    *,
    channel: str,
    body_text: str,
    body_html: str,
    external_id: str | None,
    attachment_ids: list[int],
    automated: bool = False,
) -> int:
    """A message that arrived on a channel (already sanitised): stored, the ticket reopened
    when it was waiting on the customer, announced. Automated mail (auto-replies, bounces)
    is kept but wakes nothing. ``attachment_ids``: the files ``record_uploads`` recorded for
    it in this unit of work."""
    head = ticket_head(ctx, None, ticket_id, write=True)
    message_id = _insert(
        ctx,
        head.id,
        {
            "visibility": Visibility.public,
            "author_type": AuthorType.customer,
            "author_customer_id": head.requester_id,
            "channel": channel,
            "body_text": body_text,
            "body_html": body_html,
            "delivery_status": DeliveryStatus.received,
            "external_id": external_id,
        },
    )
    attach_recorded(ctx, attachment_ids, head.id, message_id)
    if not automated and Status(head.status) in _REOPENED_BY_CUSTOMER:
        ticket = load_ticket(ctx, None, head.id, write=True)
        _after_message(ctx, None, ticket, apply_status(ctx, ticket, Status.open))
    else:
        touch_ticket(ctx, head.id)
    _announce(ctx, head.id, message_id, "customer", Visibility.public.value, channel, automated)
    return message_id


def add_system_message(ctx: Ctx, ticket_id: int, body: str, visibility: Visibility) -> int:
    """A message kefu itself writes (a rule's reply or note). A public one goes out on the
    ticket's reply channel; it changes no status and meets no response target."""
    ticket = load_ticket(ctx, None, ticket_id, write=True)
    body_text, body_html = message_bodies(body, None)
    channel = _reply_channel(ctx, ticket)
    outbound = visibility is Visibility.public and can_send(channel)
    values: dict[str, object] = {
        "visibility": visibility,
        "author_type": AuthorType.system,
        "channel": channel,
        "body_text": body_text,
        "body_html": body_html,
        "delivery_status": DeliveryStatus.queued if outbound else None,
    }
    message_id = _insert(ctx, ticket.id, values)
    if outbound:
        outbox.enqueue(ctx, "channel.send", {"message_id": message_id}, key=message_key(message_id))
    _after_message(ctx, None, ticket, [])
    _announce(ctx, ticket.id, message_id, "system", visibility.value, channel)
    return message_id


def _status_after_message(
    ctx: Ctx, ticket: Ticket, data: MessageCreate, from_customer: bool
) -> list[Change]:
    if from_customer:
        if Status(ticket.status) in _REOPENED_BY_CUSTOMER:
            return apply_status(ctx, ticket, Status.open)
        return []
    changes: list[Change] = []
    if data.visibility is Visibility.public and ticket.first_responded_at is None:
        ticket.first_responded_at = ctx.now()
        changes.append(("first_responded_at", None, ticket.first_responded_at.isoformat()))
    target = data.status
    if target is None and data.visibility is Visibility.public and ticket.status == Status.new:
        target = Status.open
    if target is not None:
        changes += apply_status(ctx, ticket, target)
    return changes


# Validated as one list in pydantic's core: 200 messages built as models one by one cost 2 ms.
_MESSAGE_READS = TypeAdapter(list[MessageRead])


def message_reads(
    ctx: Ctx, messages: Sequence[Message | repo.MessageRow], *, with_files: bool = True
) -> list[MessageRead]:
    """``with_files`` False: the caller knows the messages have no attachments."""
    users = repo.names_of_users(ctx.session, [m.author_user_id for m in messages])
    people = repo.names_of_customers(ctx.session, [m.author_customer_id for m in messages])
    message_ids = [m.id for m in messages] if with_files else []
    files = repo.attachments_of(ctx.session, message_ids)
    return _MESSAGE_READS.validate_python(
        [
            {
                "id": m.id,
                "ticket_id": m.ticket_id,
                "visibility": m.visibility,
                "author_type": m.author_type,
                "author": _author(m, users, people),
                "channel": m.channel,
                "body_text": m.body_text,
                "body_html": m.body_html,
                "delivery_status": m.delivery_status,
                "delivery_error": m.delivery_error,
                "external_id": m.external_id,
                "attachments": [attachment_read(a) for a in files.get(m.id, ())],
                "created_at": m.created_at,
            }
            for m in messages
        ]
    )


def _author(
    m: Message | repo.MessageRow, users: dict[int, tuple[str, str]], people: dict[int, str]
) -> dict[str, Any] | None:
    """The author as ``PersonRef`` data."""
    if m.author_user_id is not None and m.author_user_id in users:
        name, email = users[m.author_user_id]
        return {"id": m.author_user_id, "name": name, "email": email}
    if m.author_customer_id is not None and m.author_customer_id in people:
        return {"id": m.author_customer_id, "name": people[m.author_customer_id]}
    return None


def list_messages(
    ctx: Ctx, actor: Principal | None, ticket_id: int, cursor: str | None = None, limit: int = 100
) -> MessagePage:
    require_visible(ctx, actor, ticket_id)
    after = decode_id_cursor(cursor)
    rows = repo.message_page(ctx.session, ticket_id, after, limit + 1)
    page = list(rows[:limit])
    nxt = encode_cursor([page[-1].id]) if len(rows) > limit else None
    return MessagePage(items=message_reads(ctx, page), next_cursor=nxt)


def history(
    ctx: Ctx, actor: Principal | None, ticket_id: int, cursor: str | None = None, limit: int = 100
) -> HistoryPage:
    require_visible(ctx, actor, ticket_id)
    after = decode_id_cursor(cursor)
    rows = list(repo.history_page(ctx.session, ticket_id, after, limit + 1))
    page = rows[:limit]
    names = repo.names_of_users(ctx.session, [e.actor_id for e in page if e.actor_type == "user"])
    items = [
        TicketEventRead(
            id=e.id,
            actor_type=e.actor_type,
            actor_id=e.actor_id,
            actor_name=names.get(e.actor_id or 0, (None, None))[0]
            if e.actor_type == "user"
            else None,
            kind=e.kind,
            field=e.field,
            old_value=e.old_value,
            new_value=e.new_value,
            created_at=e.created_at,
        )
        for e in page
    ]
    return HistoryPage(
        items=items, next_cursor=encode_cursor([page[-1].id]) if len(rows) > limit else None
    )


# -- attachments ---------------------------------------------------------------------------
def attachment_for_download(
    ctx: Ctx, actor: Principal | None, attachment_id: int
) -> AttachmentRead:
    a = repo.get_attachment(ctx.session, attachment_id)
    if a is None:
        raise NotFound("Attachment", attachment_id)
    if a.ticket_id is not None:
        try:
            load_ticket(ctx, actor, a.ticket_id)
        except NotFound as exc:
            raise NotFound("Attachment", attachment_id) from exc
    elif actor is not None and a.uploaded_by_id != actor.user_id:
        raise Forbidden("This upload is not attached to a ticket you can see")
    return attachment_read(a)


# -- for channels ----------------------------------------------------------------------------
def find_by_external_id(ctx: Ctx, channel: str, external_id: str) -> tuple[int, int] | None:
    """(message id, ticket id) of the message a channel knows by this id."""
    return repo.message_by_external_id(ctx.session, channel, external_id)


def last_customer_external_id(ctx: Ctx, ticket_id: int, channel: str) -> str | None:
    """The vendor id of the customer's latest message on a channel (what email answers)."""
    return repo.last_customer_external_id(ctx.session, ticket_id, channel)


def ticket_answered_by(ctx: Ctx, channel: str, external_ids: list[str]) -> int | None:
    """The ticket holding a message this one replies to (email In-Reply-To / References)."""
    return repo.ticket_of_external_ids(ctx.session, channel, external_ids)


_DELIVERY_ORDER = ("queued", "sent", "delivered", "read")


def set_delivery(
    ctx: Ctx, message_id: int, status: str, external_id: str | None = None, error: str | None = None
) -> None:
    found = repo.delivery_of(ctx.session, [message_id])  # one Core row, not the ORM message
    if not found:
        raise NotFound("Message", message_id)
    _, ticket_id, current = found[0]
    current = current or ""
    order = _DELIVERY_ORDER
    # Vendors report out of order (read before delivered); a status never goes backwards.
    if status in order and current in order and order.index(status) <= order.index(current):
        status = current
    values: dict[str, Any] = {"delivery_status": status}
    if status == "failed":
        values["delivery_error"] = (error or "")[:500] or None
    if external_id:
        values["external_id"] = external_id
    repo.update_message(ctx.session, message_id, values)
    ctx.emit(
        "message.delivery",
        ticket_id=ticket_id,
        message_id=message_id,
        status=status,
        error=error,
    )


def set_deliveries(ctx: Ctx, message_ids: Sequence[int], status: str) -> None:
    """``set_delivery`` for many messages (a chat's receipts): one read and at most one
    write for them all, and the same events. Messages that no longer exist are skipped."""
    if not message_ids:
        return
    rank = _DELIVERY_ORDER.index(status)
    found = {row[0]: row for row in repo.delivery_of(ctx.session, message_ids)}
    moved = []
    for message_id, ticket_id, current in (found[i] for i in message_ids if i in found):
        now = status  # a status never goes backwards
        if current in _DELIVERY_ORDER and _DELIVERY_ORDER.index(current) >= rank:
            now = current
        if now != current:
            moved.append(message_id)
        ctx.emit(
            "message.delivery", ticket_id=ticket_id, message_id=message_id, status=now, error=None
        )
    repo.set_delivery_status(ctx.session, moved, status)


def outbound_view(ctx: Ctx, message_id: int) -> OutboundView:
    """What a channel needs to send an agent's reply (two Core reads: every reply sent)."""
    row = repo.outbound_row(ctx.session, message_id)
    if row is None:
        raise NotFound("Message", message_id)
    ticket_id, channel, text, html, requester_id, subject = row
    return OutboundView(
        ticket_id=ticket_id,
        message_id=message_id,
        channel=channel,
        requester_id=requester_id,
        subject=subject,
        text=text,
        html=html,
        attachments=repo.files_to_send(ctx.session, message_id),
    )
