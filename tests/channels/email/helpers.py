"""Building mail for the tests, and driving the real inbound and outbound paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import httpx
from sqlalchemy import update

from kefu.channels.email import inbound
from kefu.channels.schemas import IngestResult
from kefu.db import Ctx
from kefu.outbox import tasks as outbox_tasks
from kefu.runtime import Runtime
from kefu.tickets.models import Ticket
from tests.conftest import Actor


def mail(
    sender: str = "alice@customer.example",
    subject: str = "My parcel never arrived",
    body: str = "Order 1042 was due last week.",
    *,
    to: str = "support@example.com",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id or make_msgid(domain="customer.example")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes()


async def ingest(runtime: Runtime, raw: bytes, account_id: int | None = None) -> IngestResult:
    results = await inbound.ingest_raw(runtime, raw, account_id)
    return results[0]


async def messages(client: httpx.AsyncClient, actor: Actor, ticket_id: int) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/tickets/{ticket_id}/messages", headers=actor.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def ticket(client: httpx.AsyncClient, actor: Actor, ticket_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/tickets/{ticket_id}", headers=actor.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def agent_reply(
    client: httpx.AsyncClient, runtime: Runtime, actor: Actor, ticket_id: int, body: str
) -> dict[str, Any]:
    """An agent's public reply, then one round of the outbox (it goes out by SMTP)."""
    response = await client.post(
        f"/api/v1/tickets/{ticket_id}/messages", json={"body": body}, headers=actor.headers
    )
    assert response.status_code == 201, response.text
    await outbox_tasks.deliver_due(runtime)
    sent = [m for m in await messages(client, actor, ticket_id) if m["id"] == response.json()["id"]]
    return sent[0]


async def set_ticket(runtime: Runtime, ticket_id: int, **values: Any) -> None:
    def change(ctx: Ctx) -> None:
        ctx.session.execute(update(Ticket).where(Ticket.id == ticket_id).values(**values))

    await runtime.db.write(change)


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)
