"""Canned replies and their placeholders, e.g. ``Hello {customer.first_name}``.

Placeholders are checked when a reply is saved, so a typo is caught by the supervisor who
wrote it rather than sent to a customer."""

from __future__ import annotations

import re

from kefu.canned import repository as repo
from kefu.canned.models import CannedReply
from kefu.canned.schemas import (
    CannedReplyCreate,
    CannedReplyFilled,
    CannedReplyRead,
    CannedReplyUpdate,
)
from kefu.customers import service as customers
from kefu.db import Ctx
from kefu.kit.errors import NotFound, invalid
from kefu.security.permissions import Principal
from kefu.tickets import service as tickets

PLACEHOLDER = re.compile(r"\{([a-z_]+\.[a-z_]+)\}")
PLACEHOLDERS = (
    "customer.name",
    "customer.first_name",
    "customer.email",
    "company.name",
    "ticket.id",
    "ticket.subject",
    "agent.name",
    "agent.first_name",
)


def reply_read(reply: CannedReply) -> CannedReplyRead:
    return CannedReplyRead.model_validate(reply, from_attributes=True)


def _check_placeholders(body: str) -> None:
    unknown = sorted({p for p in PLACEHOLDER.findall(body) if p not in PLACEHOLDERS})
    if unknown:
        raise invalid(
            ["body", "body"],
            f"unknown placeholder {', '.join(unknown)}; known: {', '.join(PLACEHOLDERS)}",
        )


def list_replies(ctx: Ctx, q: str | None = None, limit: int = 200) -> list[CannedReplyRead]:
    return [reply_read(r) for r in repo.list_replies(ctx.session, q, limit)]


def _get(ctx: Ctx, reply_id: int) -> CannedReply:
    reply = repo.get(ctx.session, reply_id)
    if reply is None:
        raise NotFound("Canned reply", reply_id)
    return reply


def get_reply(ctx: Ctx, reply_id: int) -> CannedReplyRead:
    return reply_read(_get(ctx, reply_id))


def create_reply(ctx: Ctx, actor: Principal, data: CannedReplyCreate) -> CannedReplyRead:
    _check_placeholders(data.body)
    now = ctx.now()
    reply = CannedReply(
        title=data.title,
        body=data.body,
        language=data.language,
        created_by_id=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    repo.add(ctx.session, reply)
    ctx.emit("canned.created", canned_id=reply.id)
    return reply_read(reply)


def update_reply(ctx: Ctx, reply_id: int, data: CannedReplyUpdate) -> CannedReplyRead:
    reply = _get(ctx, reply_id)
    if data.body is not None:
        _check_placeholders(data.body)
    for key, value in data.model_dump(exclude_unset=True).items():
        if value is not None or key == "language":
            setattr(reply, key, value)
    reply.updated_at = ctx.now()
    ctx.emit("canned.updated", canned_id=reply.id)
    return reply_read(reply)


def delete_reply(ctx: Ctx, reply_id: int) -> None:
    repo.delete(ctx.session, _get(ctx, reply_id))
    ctx.emit("canned.deleted", canned_id=reply_id)


def _first_name(name: str) -> str:
    return name.split()[0] if name.split() else name


def fill_reply(ctx: Ctx, actor: Principal, reply_id: int, ticket_id: int) -> CannedReplyFilled:
    """The reply's text for one ticket, its placeholders filled from the ticket."""
    reply = _get(ctx, reply_id)
    ticket = tickets.get_ticket(ctx, actor, ticket_id)
    customer = customers.get_customer(ctx, ticket.requester.id)
    values = {
        "customer.name": customer.name,
        "customer.first_name": _first_name(customer.name),
        "customer.email": customer.email or "",
        "company.name": customer.company.name if customer.company else "",
        "ticket.id": str(ticket.id),
        "ticket.subject": ticket.subject,
        "agent.name": actor.name,
        "agent.first_name": _first_name(actor.name),
    }
    text = PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), reply.body)
    return CannedReplyFilled(id=reply.id, title=reply.title, text=text)
