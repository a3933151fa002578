"""IMAP polling against a real dovecot on loopback: each mail read once, across restarts
and UIDVALIDITY changes; processed mail moved or flagged; IDLE; failing accounts."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from kefu.channels.email import imap
from kefu.channels.email import service as email_service
from kefu.runtime import Runtime
from tests.channels.email.conftest import PASSWORD, Dovecot, fixture, make_account
from tests.channels.email.helpers import mail, messages
from tests.conftest import Actor

pytestmark = pytest.mark.usefixtures("client")


async def imap_account(
    client: httpx.AsyncClient, admin: Actor, dovecot: Dovecot, user: str, **config: Any
) -> dict[str, Any]:
    return await make_account(
        client,
        admin,
        address=user,
        imap_host="127.0.0.1",
        imap_port=dovecot.port,
        imap_security="none",
        imap_password=PASSWORD,
        **config,
    )


def folder_state(dovecot: Dovecot, user: str, folder: str) -> list[bytes]:
    """The flags of each message in a folder."""
    conn = dovecot.login(user)
    try:
        typ, count = conn.select(f'"{folder}"')
        if typ != "OK" or int(count[0] or 0) == 0:
            return []
        typ, data = conn.fetch("1:*", "(FLAGS)")
        return [d for d in data if isinstance(d, bytes)] if typ == "OK" else []
    finally:
        conn.logout()


async def ticket_count(client: httpx.AsyncClient, actor: Actor) -> int:
    response = await client.get("/api/v1/tickets", params={"limit": 200}, headers=actor.headers)
    return len(response.json()["items"])


async def test_new_mail_is_read_once_and_moved(
    client: httpx.AsyncClient,
    runtime: Runtime,
    admin: Actor,
    agent: Actor,
    dovecot: Dovecot,
    mailbox_user: str,
) -> None:
    account = await imap_account(
        client, admin, dovecot, mailbox_user, imap_processed_folder="kefu/processed"
    )
    for name in ("gbk_foxmail_new.eml", "qq_reply.eml", "inline_image_nested.eml"):
        dovecot.deliver(mailbox_user, fixture(name))
    assert await imap.poll_account(runtime, account["id"]) == 3
    assert await ticket_count(client, agent) == 3
    assert folder_state(dovecot, mailbox_user, "INBOX") == []
    moved = folder_state(dovecot, mailbox_user, "kefu/processed")
    assert len(moved) == 3 and all(b"\\Seen" in flags for flags in moved)

    assert await imap.poll_account(runtime, account["id"]) == 0
    dovecot.deliver(mailbox_user, mail(subject="one more"))
    assert await imap.poll_account(runtime, account["id"]) == 1
    assert await ticket_count(client, agent) == 4


async def test_the_position_survives_a_restart_and_a_uidvalidity_change(
    client: httpx.AsyncClient,
    runtime: Runtime,
    admin: Actor,
    agent: Actor,
    dovecot: Dovecot,
    mailbox_user: str,
) -> None:
    account = await imap_account(client, admin, dovecot, mailbox_user)  # flag \Seen, keep
    dovecot.deliver(mailbox_user, mail(subject="first"))
    dovecot.deliver(mailbox_user, mail(subject="second"))
    assert await imap.poll_account(runtime, account["id"]) == 2
    flags = folder_state(dovecot, mailbox_user, "INBOX")
    assert len(flags) == 2 and all(b"\\Seen" in f for f in flags)

    # someone marks a handled mail unread again in their mail client: it is not re-read
    conn = dovecot.login(mailbox_user)
    conn.select("INBOX")
    conn.store("1", "-FLAGS", "(\\Seen)")
    conn.logout()
    assert await imap.poll_account(runtime, account["id"]) == 0  # a new session: a restart

    # the server renumbers the mailbox (UIDVALIDITY): unseen mail is read again, and the
    # Message-ID recognises the one kefu already has
    await runtime.db.write(email_service.record_position, account["id"], "INBOX", 1, 99)
    assert await imap.poll_account(runtime, account["id"]) == 1
    assert await ticket_count(client, agent) == 2
    position = await runtime.db.read(email_service.position, account["id"], "INBOX")
    assert position is not None and position.uidvalidity != 1


async def test_the_first_read_takes_the_unseen_mail_only(
    client: httpx.AsyncClient,
    runtime: Runtime,
    admin: Actor,
    agent: Actor,
    dovecot: Dovecot,
    mailbox_user: str,
) -> None:
    conn = dovecot.login(mailbox_user)
    conn.append("INBOX", "(\\Seen)", None, mail(subject="read long ago"))
    conn.logout()
    dovecot.deliver(mailbox_user, mail(subject="waiting for an answer"))
    account = await imap_account(client, admin, dovecot, mailbox_user)
    assert await imap.poll_account(runtime, account["id"]) == 1
    response = await client.get("/api/v1/tickets", headers=agent.headers)
    assert [t["subject"] for t in response.json()["items"]] == ["waiting for an answer"]


async def test_malformed_mail_never_stops_the_poller(
    client: httpx.AsyncClient,
    runtime: Runtime,
    admin: Actor,
    agent: Actor,
    dovecot: Dovecot,
    mailbox_user: str,
) -> None:
    account = await imap_account(client, admin, dovecot, mailbox_user)
    for raw in (
        fixture("malformed_headers.eml"),
        b"\x00\xff garbage without headers",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary",
        mail(subject="the poller is still alive"),
    ):
        dovecot.deliver(mailbox_user, raw)
    assert await imap.poll_account(runtime, account["id"]) == 4
    response = await client.get("/api/v1/tickets", params={"q": "alive"}, headers=agent.headers)
    [found] = response.json()["items"]
    assert found["subject"] == "the poller is still alive"
    assert len(await messages(client, agent, found["id"])) == 1


async def test_idle_reads_new_mail_at_once_and_stops_promptly(
    client: httpx.AsyncClient,
    runtime: Runtime,
    admin: Actor,
    agent: Actor,
    dovecot: Dovecot,
    mailbox_user: str,
) -> None:
    account = await imap_account(client, admin, dovecot, mailbox_user)
    polling = asyncio.create_task(imap.poll_account(runtime, account["id"], idle_s=30.0))
    await asyncio.sleep(1.0)  # the first round is done; the connection is in IDLE
    dovecot.deliver(mailbox_user, mail(subject="pushed by IDLE"))
    started = time.monotonic()
    while await ticket_count(client, agent) == 0:
        assert time.monotonic() - started < 10, "IDLE did not announce the new mail"
        await asyncio.sleep(0.2)
    assert not polling.done()  # still waiting in IDLE for more
    stopping = time.monotonic()
    polling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await polling
    assert time.monotonic() - stopping < 5


async def test_one_failing_account_does_not_stop_the_others(
    client: httpx.AsyncClient,
    runtime: Runtime,
    admin: Actor,
    agent: Actor,
    dovecot: Dovecot,
    mailbox_user: str,
) -> None:
    good = await imap_account(client, admin, dovecot, mailbox_user)
    bad = await make_account(
        client,
        admin,
        address="wrong@example.com",
        imap_host="127.0.0.1",
        imap_port=dovecot.port,
        imap_security="none",
        imap_password="not-the-password",
    )
    dovecot.deliver(mailbox_user, mail(subject="still arrives"))
    report = await imap.poll_all(runtime)
    assert report[good["id"]] == 1
    assert "authentication" in str(report[bad["id"]]).lower() or "fail" in str(report[bad["id"]])
    assert await ticket_count(client, agent) == 1
