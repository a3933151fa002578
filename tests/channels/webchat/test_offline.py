"""Offline: the widget says so and asks for an email; the message still becomes a ticket,
and a visitor who is gone when the reply comes gets the conversation by email."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from kefu.db import Ctx
from kefu.outbox.models import OutboxItem
from kefu.runtime import Runtime
from tests.channels.email.conftest import SmtpSink, smtp_sink  # noqa: F401  (a fixture)
from tests.channels.webchat.conftest import Live, Visitor, make_account, wait_until
from tests.channels.webchat.test_protocol import reply
from tests.conftest import Actor


async def mailbox(http: httpx.AsyncClient, admin: Actor, sink: SmtpSink) -> None:
    body = {
        "kind": "email",
        "name": "Support mailbox",
        "address": "support@acme.example",
        "config": {"smtp_host": "127.0.0.1", "smtp_port": sink.port, "smtp_security": "none"},
    }
    response = await http.post("/api/v1/channel-accounts", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text


def transcript_items(runtime: Runtime) -> list[tuple[str, dict[str, Any] | None]]:
    def query(ctx: Ctx) -> list[tuple[str, dict[str, Any] | None]]:
        stmt = select(OutboxItem).where(OutboxItem.kind == "webchat.transcript")
        return [(i.status, i.result) for i in ctx.session.scalars(stmt)]

    return runtime.db.run_read(query)


async def test_offline_message_becomes_a_ticket_and_the_reply_comes_by_email(
    live: Live,
    http: httpx.AsyncClient,
    runtime: Runtime,
    admin: Actor,
    agent: Actor,
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    await mailbox(http, admin, smtp_sink)
    chat = make_account(runtime, availability="never", transcript_delay_s=0)
    visitor = await Visitor.connect(live, chat, lang="zh_CN")
    assert visitor.welcome["online"] is False and visitor.welcome["require_email"] is True
    assert visitor.welcome["reply_hint"] is None
    await visitor.send(type="profile", name="Lin", email="lin@example.com")
    await visitor.expect("profile")
    ack = await visitor.say("我的订单还没到")
    await visitor.close()
    await reply(http, agent, ack["ticket_id"], "已为您重新发货")
    await wait_until(lambda: smtp_sink.received, timeout=15)
    [(_, to, mail)] = smtp_sink.received
    assert to == ["lin@example.com"]
    assert mail["Subject"] == "您与Acme Support的聊天记录"
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "我的订单还没到" in text and "已为您重新发货" in text and "Lin" in text
    assert "+t-" in mail["Reply-To"]  # answering the email continues the same ticket


async def test_no_transcript_when_the_widget_received_the_reply(
    live: Live,
    http: httpx.AsyncClient,
    runtime: Runtime,
    admin: Actor,
    agent: Actor,
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    await mailbox(http, admin, smtp_sink)
    chat = make_account(runtime, transcript_delay_s=1.0)
    visitor = await Visitor.connect(live, chat)
    await visitor.send(type="profile", email="sam@example.com")
    await visitor.expect("profile")
    ack = await visitor.say("quick question")
    await reply(http, agent, ack["ticket_id"], "quick answer")
    answer = await visitor.expect("message", lambda f: f["from"] == "agent")
    await visitor.send(type="received", seq=answer["seq"])
    done = await wait_until(
        lambda: [i for i in transcript_items(runtime) if i[0] == "sent"], timeout=15
    )
    assert "skipped" in (done[0][1] or {})
    assert smtp_sink.received == []
    await visitor.close()
