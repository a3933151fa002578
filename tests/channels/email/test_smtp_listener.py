"""The SMTP listener an MTA forwards to: mail for known mailboxes is stored before it is
acknowledged; unknown recipients are refused; a failure asks the MTA to try again."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiosmtplib
import httpx
import pytest
from asgi_lifespan import LifespanManager

from kefu.channels.email import smtp_listener
from kefu.config import Settings
from kefu.main import create_app
from kefu.runtime import Runtime
from tests.channels.email.conftest import fixture, free_port, make_account
from tests.channels.email.helpers import mail, messages
from tests.conftest import Actor

pytestmark = pytest.mark.usefixtures("client")


@pytest.fixture
async def listener(runtime: Runtime) -> AsyncIterator[int]:
    port = free_port()
    server = await smtp_listener.start(runtime, "127.0.0.1", port)
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()


async def send(port: int, raw: bytes, rcpt: str, sender: str = "alice@customer.example") -> str:
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as smtp:
        errors, reply = await smtp.sendmail(sender, [rcpt], raw)
        assert not errors
        return reply


async def test_mail_for_a_mailbox_is_stored_before_the_250(
    client: httpx.AsyncClient, runtime: Runtime, admin: Actor, agent: Actor, listener: int
) -> None:
    await make_account(client, admin, address="help@example.com", aliases=["info@example.com"])
    reply = await send(listener, fixture("qq_reply.eml"), "help@example.com")
    assert reply.startswith("2.0.0 OK ticket ")
    ticket_id = int(reply.rsplit(" ", 1)[1])
    [stored] = await messages(client, agent, ticket_id)
    assert "已经收到退款了" in stored["body_text"]
    aliased = await send(listener, mail(subject="via the alias"), "INFO+sales@example.com")
    assert aliased.startswith("2.0.0 OK ticket ")


async def test_an_unknown_recipient_is_refused(
    client: httpx.AsyncClient, admin: Actor, listener: int
) -> None:
    await make_account(client, admin, address="help@example.com")
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await send(listener, mail(), "someone-else@example.com")
    assert refused.value.recipients[0].code == 550


async def test_a_message_that_cannot_be_stored_is_deferred_not_lost(
    client: httpx.AsyncClient, admin: Actor, listener: int
) -> None:
    account = await make_account(client, admin, address="help@example.com")
    await send(listener, mail(subject="first"), "help@example.com")  # the listener knows it
    response = await client.delete(
        f"/api/v1/channel-accounts/{account['id']}", headers=admin.headers
    )
    assert response.status_code == 204
    with pytest.raises(aiosmtplib.SMTPDataError) as deferred:
        await send(listener, mail(subject="second"), "help@example.com")
    assert deferred.value.code == 451


async def test_kefu_serve_starts_the_listener_when_configured(
    settings: Settings, admin: Actor
) -> None:
    port = free_port()
    app = create_app(settings.model_copy(update={"smtp_listen_port": port}))
    async with LifespanManager(app):
        reply = await send(port, mail(subject="no account yet: taken unassigned"), "x@example.com")
        assert reply.startswith("2.0.0 OK ticket ")
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await send(port, mail(), "x@example.com")
