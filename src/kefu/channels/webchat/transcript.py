"""The email transcript: a visitor who left before an agent's reply reached the widget gets
the conversation by email, through the ``email`` channel, with the ticket's reply token so
that answering the email continues the same ticket."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from kefu.channels import service as channels
from kefu.channels.base import OutboundMessage, adapter_for
from kefu.channels.webchat import repository as repo
from kefu.channels.webchat.messages import frames
from kefu.channels.webchat.strings import text
from kefu.db import Ctx
from kefu.kit.crypto import SecretBox

EMAIL = "email"


@dataclass(frozen=True)
class TranscriptPlan:
    session_id: int
    seq: int
    settings: dict[str, Any]
    message: OutboundMessage


def plan(ctx: Ctx, box: SecretBox, session_id: int, seq: int) -> TranscriptPlan | None:
    """None when nothing is owed: the widget received the reply, an earlier transcript
    covered it, or the visitor left no email."""
    s = repo.get_session(ctx.session, session_id)
    if s is None or not s.email or s.ticket_id is None:
        return None
    if s.received_seq >= seq or s.transcript_seq >= seq:
        return None
    account_id = channels.default_account(ctx, EMAIL)
    if adapter_for(EMAIL) is None or account_id is None:
        raise RuntimeError("no email channel account is configured to send the chat transcript")
    lines = frames(ctx, s.id, 0, s.last_seq, limit=1000)
    account = channels.get_account(ctx, box, s.account_id)
    title = str(account.config.get("title") or account.name)
    thread = channels.thread_of(ctx, s.ticket_id)
    visitor = s.name or text(s.language, "visitor", id=s.public_id[:6])
    body_text, body_html = _bodies(s.language, lines, visitor, title)
    last_reply = next((f["id"] for f in reversed(lines) if f["from"] == "agent"), lines[-1]["id"])
    message = OutboundMessage(
        ticket_id=s.ticket_id,
        message_id=int(last_reply),
        to=s.email,
        text=body_text,
        html=body_html,
        subject=text(s.language, "transcript_subject", title=title),
        attachments=[],
        thread={"reply_token": thread.reply_token if thread else None},
    )
    settings = channels.account_config(ctx, box, account_id).settings
    return TranscriptPlan(s.id, s.last_seq, settings, message)


def _bodies(
    language: str, lines: list[dict[str, Any]], visitor: str, title: str
) -> tuple[str, str]:
    intro = text(language, "transcript_intro")
    plain = [intro, ""]
    rich = [f"<p>{html.escape(intro)}</p>"]
    for line in lines:
        who = visitor if line["from"] == "customer" else (line["author"] or title)
        when = line["at"][:16].replace("T", " ") + " UTC"
        files = ", ".join(f["name"] for f in line["files"])
        body = line["text"] + (f" [{files}]" if files else "")
        plain.append(f"[{when}] {who.strip()}: {body}")
        rich.append(
            f"<p><small>{html.escape(when)}</small> <b>{html.escape(who.strip())}</b><br>"
            f"{html.escape(body).replace(chr(10), '<br>')}</p>"
        )
    return "\n".join(plain), "\n".join(rich)


def sent(ctx: Ctx, session_id: int, seq: int) -> None:
    s = repo.get_session(ctx.session, session_id)
    if s is not None:
        s.transcript_seq = max(s.transcript_seq, seq)
