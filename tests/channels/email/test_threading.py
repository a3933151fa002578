"""Threading through the real pipeline: a reply never opens a new ticket, an unrelated mail
is never glued onto an old one (adversarial cases for both), loops and auto-replies."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kefu.runtime import Runtime
from tests.channels.email.conftest import SmtpSink, make_account
from tests.channels.email.helpers import (
    agent_reply,
    days_ago,
    ingest,
    mail,
    messages,
    set_ticket,
    ticket,
)
from tests.conftest import Actor

pytestmark = pytest.mark.usefixtures("client")


@pytest.fixture
async def account(client: httpx.AsyncClient, admin: Actor, smtp_sink: SmtpSink) -> dict[str, Any]:
    return await make_account(
        client,
        admin,
        from_name="Kefu Support",
        smtp_host="127.0.0.1",
        smtp_port=smtp_sink.port,
        smtp_security="none",
    )


async def test_the_whole_loop_customer_agent_customer(
    client: httpx.AsyncClient,
    runtime: Runtime,
    agent: Actor,
    account: dict[str, Any],
    smtp_sink: SmtpSink,
) -> None:
    first = mail(message_id="<first-1@customer.example>")
    opened = await ingest(runtime, first, account["id"])
    assert opened.created_ticket

    sent = await agent_reply(
        client, runtime, agent, opened.ticket_id, "Could you send the tracking number?"
    )
    assert sent["delivery_status"] == "sent"
    envelope_from, rcpts, outgoing = smtp_sink.received[-1]
    assert rcpts == ["alice@customer.example"] and envelope_from == "support@example.com"
    assert outgoing["From"] == "Kefu Support <support@example.com>"
    assert outgoing["Subject"] == "Re: My parcel never arrived"
    assert outgoing["In-Reply-To"] == "<first-1@customer.example>"
    assert "<first-1@customer.example>" in outgoing["References"]
    assert outgoing["Message-ID"] == sent["external_id"]
    reply_to = str(outgoing["Reply-To"])
    assert "support+t-" in reply_to and "@example.com" in reply_to
    assert (
        outgoing.get_body(("plain",)).get_content().strip() == "Could you send the tracking number?"
    )
    assert outgoing.get_body(("html",)) is not None

    # the customer answers: every threading hint alone finds the ticket
    token_address = reply_to.split("<")[-1].rstrip(">")
    replies = [
        mail(subject="Re: My parcel never arrived", in_reply_to=sent["external_id"]),
        mail(subject="tracking", references=["<x@elsewhere>", sent["external_id"]]),
        mail(subject="another subject entirely", to=token_address),
        mail(subject="RE: My parcel never arrived"),
        mail(subject="回复: My parcel never arrived"),
    ]
    for raw in replies:
        result = await ingest(runtime, raw, account["id"])
        assert (result.ticket_id, result.created_ticket) == (opened.ticket_id, False)

    # and the next agent reply answers the customer's last message
    await agent_reply(client, runtime, agent, opened.ticket_id, "Thanks!")
    _, _, second = smtp_sink.received[-1]
    stored = await messages(client, agent, opened.ticket_id)
    assert second["In-Reply-To"] == stored[-2]["external_id"]
    assert sent["external_id"] in second["References"]


async def test_a_reply_reopens_a_solved_ticket_and_an_auto_reply_does_not(
    client: httpx.AsyncClient, runtime: Runtime, agent: Actor, account: dict[str, Any]
) -> None:
    seen: list[bool] = []
    runtime.bus.subscribe(
        "message.created", lambda e: seen.append(e.payload.get("automated", False))
    )
    opened = await ingest(runtime, mail(message_id="<o-1@customer.example>"), account["id"])
    await set_ticket(runtime, opened.ticket_id, status="solved")
    out_of_office = mail(
        subject="Automatic reply: My parcel never arrived",
        in_reply_to="<o-1@customer.example>",
        headers={"Auto-Submitted": "auto-replied"},
    )
    auto = await ingest(runtime, out_of_office, account["id"])
    assert auto.ticket_id == opened.ticket_id
    assert (await ticket(client, agent, opened.ticket_id))["status"] == "solved"
    person = await ingest(runtime, mail(in_reply_to="<o-1@customer.example>"), account["id"])
    assert person.ticket_id == opened.ticket_id
    assert (await ticket(client, agent, opened.ticket_id))["status"] == "open"
    await runtime.bus.drain()
    assert seen == [False, True, False]  # rules are told which message not to answer


async def test_a_reply_to_a_merged_ticket_lands_on_the_survivor(
    client: httpx.AsyncClient, runtime: Runtime, agent: Actor, account: dict[str, Any]
) -> None:
    a = await ingest(runtime, mail(subject="first", message_id="<m-a@c.example>"), account["id"])
    b = await ingest(runtime, mail(subject="second", message_id="<m-b@c.example>"), account["id"])
    response = await client.post(
        f"/api/v1/tickets/{a.ticket_id}/merge",
        json={"source_ids": [b.ticket_id]},
        headers=agent.headers,
    )
    assert response.status_code == 200, response.text
    reply = await ingest(
        runtime, mail(subject="Re: second", in_reply_to="<m-b@c.example>"), account["id"]
    )
    assert reply.ticket_id == a.ticket_id


async def test_a_colleague_in_cc_replying_to_the_customer_joins_the_ticket(
    runtime: Runtime, account: dict[str, Any]
) -> None:
    opened = await ingest(runtime, mail(message_id="<cc-1@customer.example>"), account["id"])
    colleague = mail(
        sender="bob@customer.example",
        subject="Re: My parcel never arrived",
        in_reply_to="<cc-1@customer.example>",
    )
    assert (await ingest(runtime, colleague, account["id"])).ticket_id == opened.ticket_id


# -- an unrelated mail is never glued onto an old ticket -------------------------------------
async def test_the_same_subject_without_reply_prefix_is_a_new_matter(
    runtime: Runtime, account: dict[str, Any]
) -> None:
    first = await ingest(runtime, mail(subject="Order problem"), account["id"])
    again = await ingest(
        runtime, mail(subject="Order problem", body="A different order"), account["id"]
    )
    assert again.created_ticket and again.ticket_id != first.ticket_id


async def test_a_reply_subject_from_another_sender_is_not_glued(
    runtime: Runtime, account: dict[str, Any]
) -> None:
    first = await ingest(runtime, mail(subject="Invoice"), account["id"])
    stranger = await ingest(
        runtime, mail(sender="mallory@other.example", subject="Re: Invoice"), account["id"]
    )
    assert stranger.created_ticket and stranger.ticket_id != first.ticket_id


async def test_a_reply_subject_to_an_old_ticket_starts_a_new_one(
    runtime: Runtime, account: dict[str, Any]
) -> None:
    first = await ingest(runtime, mail(subject="Warranty"), account["id"])
    await set_ticket(runtime, first.ticket_id, updated_at=days_ago(15))
    late = await ingest(runtime, mail(subject="Re: Warranty"), account["id"])
    assert late.created_ticket and late.ticket_id != first.ticket_id


async def test_a_reply_to_a_closed_ticket_opens_a_follow_up(
    runtime: Runtime, account: dict[str, Any]
) -> None:
    first = await ingest(runtime, mail(message_id="<closed-1@c.example>"), account["id"])
    await set_ticket(runtime, first.ticket_id, status="closed")
    follow_up = await ingest(
        runtime,
        mail(subject="Re: My parcel never arrived", in_reply_to="<closed-1@c.example>"),
        account["id"],
    )
    assert follow_up.created_ticket and follow_up.ticket_id != first.ticket_id


async def test_unknown_tokens_and_references_thread_nothing(
    runtime: Runtime, account: dict[str, Any]
) -> None:
    first = await ingest(runtime, mail(subject="Login"), account["id"])
    forged = mail(
        subject="Password",
        to="support+t-00000000000000000000@example.com",
        in_reply_to="<kefu.1.1.000000000000@example.com>",
        references=["<never-seen@elsewhere.example>"],
    )
    result = await ingest(runtime, forged, account["id"])
    assert result.created_ticket and result.ticket_id != first.ticket_id


async def test_the_same_message_twice_is_stored_once(
    client: httpx.AsyncClient, runtime: Runtime, agent: Actor, account: dict[str, Any]
) -> None:
    raw = mail(message_id="<twice@c.example>")
    first = await ingest(runtime, raw, account["id"])
    second = await ingest(runtime, raw, account["id"])
    assert second.duplicate and second.ticket_id == first.ticket_id
    assert len(await messages(client, agent, first.ticket_id)) == 1


# -- loops, bounces, refusals -----------------------------------------------------------------
async def test_our_own_mail_looping_back_is_not_stored_again(
    client: httpx.AsyncClient,
    runtime: Runtime,
    agent: Actor,
    account: dict[str, Any],
    smtp_sink: SmtpSink,
) -> None:
    opened = await ingest(runtime, mail(), account["id"])
    await agent_reply(client, runtime, agent, opened.ticket_id, "Hello")
    _, _, outgoing = smtp_sink.received[-1]
    looped = await ingest(runtime, outgoing.as_bytes(), account["id"])
    assert looped.duplicate and looped.ticket_id == opened.ticket_id
    assert len(await messages(client, agent, opened.ticket_id)) == 2


async def test_a_bounce_marks_the_reply_failed_and_stays_on_the_ticket(
    client: httpx.AsyncClient,
    runtime: Runtime,
    agent: Actor,
    account: dict[str, Any],
    smtp_sink: SmtpSink,
) -> None:
    opened = await ingest(runtime, mail(sender="gone@customer.example"), account["id"])
    sent = await agent_reply(client, runtime, agent, opened.ticket_id, "Your parcel is on its way")
    await set_ticket(runtime, opened.ticket_id, status="pending")
    bounce = mail(
        sender="MAILER-DAEMON@mx.example.com",
        subject="Undelivered Mail Returned to Sender",
        body="Sorry.\n\n--- copy ---\nMessage-ID: " + sent["external_id"] + "\n",
    )
    result = await ingest(runtime, bounce, account["id"])
    assert result.ticket_id == opened.ticket_id
    stored = {m["id"]: m for m in await messages(client, agent, opened.ticket_id)}
    assert stored[sent["id"]]["delivery_status"] == "failed"
    assert (await ticket(client, agent, opened.ticket_id))["status"] == "pending"


async def test_kefu_never_mails_itself_or_a_mailer_daemon(
    client: httpx.AsyncClient,
    runtime: Runtime,
    agent: Actor,
    account: dict[str, Any],
    smtp_sink: SmtpSink,
) -> None:
    for sender in ("MAILER-DAEMON@mx.example.com", "support+x@example.com"):
        opened = await ingest(runtime, mail(sender=sender, subject=f"from {sender}"), account["id"])
        sent = await agent_reply(client, runtime, agent, opened.ticket_id, "hello?")
        assert sent["delivery_status"] == "failed"
    assert smtp_sink.received == []


async def test_a_refused_recipient_fails_the_message_at_once(
    client: httpx.AsyncClient,
    runtime: Runtime,
    agent: Actor,
    account: dict[str, Any],
    smtp_sink: SmtpSink,
) -> None:
    smtp_sink.refuse["nobody@customer.example"] = "550 5.1.1 User unknown"
    opened = await ingest(runtime, mail(sender="nobody@customer.example"), account["id"])
    sent = await agent_reply(client, runtime, agent, opened.ticket_id, "hello?")
    assert sent["delivery_status"] == "failed"
