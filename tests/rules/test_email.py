"""A rule's email goes through the email channel's adapter to a real SMTP server on loopback;
without an email account it fails, and the ticket's history says so."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiosmtpd.smtp import SMTP

from kefu.outbox import tasks as outbox_tasks
from tests.channels.email.conftest import SmtpSink, make_account
from tests.conftest import Actor
from tests.rules.conftest import Rules

NOTIFY = {
    "name": "Tell billing",
    "trigger": ["ticket.created"],
    "actions": [
        {
            "type": "notify_email",
            "to": ["requester", "billing@example.com"],
            "subject": "We got #{{ ticket.id }}",
            "body": "Hello {{ requester.name }}: {{ ticket.subject }}",
        }
    ],
}


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpSink]:
    loop = asyncio.get_running_loop()
    for port in range(9110, 9120):
        sink = SmtpSink(port)
        try:
            server = await loop.create_server(lambda s=sink: SMTP(s), "127.0.0.1", port)
        except OSError:
            continue
        try:
            yield sink
        finally:
            server.close()
            await server.wait_closed()
        return
    pytest.fail("no free port in 9110-9119")


async def test_a_rule_emails_the_customer_and_an_address(
    rules: Rules, smtp: SmtpSink, admin: Actor
) -> None:
    await make_account(
        rules.client, admin, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none"
    )
    await rules.rule(**NOTIFY)
    ticket = await rules.ticket(subject="Invoice missing")
    await rules.run()
    await outbox_tasks.deliver_due(rules.runtime)
    got = {tuple(to): message for _, to, message in smtp.received}
    assert set(got) == {("alice@example.com",), ("billing@example.com",)}
    mail = got[("alice@example.com",)]
    assert mail["Subject"] == f"We got #{ticket['id']}"
    assert mail.get_content().strip() == "Hello Alice Liu: Invoice missing"


async def test_without_an_email_account_the_failure_is_on_the_ticket(rules: Rules) -> None:
    await rules.rule(**NOTIFY)
    ticket = await rules.ticket()
    await rules.run()
    await outbox_tasks.deliver_due(rules.runtime)
    await rules.runtime.bus.drain()
    failed = [e for e in await rules.history(ticket["id"]) if e["kind"] == "rule_failed"]
    assert len(failed) == 2  # one per address
    assert all("no active email account" in e["new_value"] for e in failed)
