"""Numbering a conversation's messages: the hot path of web chat.

A visitor's message is ingested through the channels core (``channels.service.ingest``:
customer by identity, the conversation's ticket, the stored message) and numbered in the
same transaction; a resent ``client_id`` returns the number it already has. An agent's
reply reaches ``number_reply`` through the outbox (``adapter.send``). Each numbered message
is announced as ``webchat.message`` with the frame the widget shows, so every process's hub
pushes it to its sockets of that conversation. Statements here are Core (see
``repository``): they run for every message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

from kefu.channels import service as channels
from kefu.channels.base import InboundMessage
from kefu.channels.webchat import repository as repo
from kefu.channels.webchat.options import ChatOptions, transcript_delay_s
from kefu.channels.webchat.service import (
    CHANNEL,
    TRANSCRIPT_KIND,
    Conversation,
    SessionRef,
    SessionView,
    conversation_of,
    view,
)
from kefu.channels.webchat.strings import text
from kefu.db import Ctx
from kefu.events import Event
from kefu.kit.errors import NotFound, invalid
from kefu.kit.files import StoredFile, path_for
from kefu.outbox import service as outbox
from kefu.tickets import service as tickets
from kefu.tickets.models import Attachment


@dataclass(frozen=True)
class Posted:
    session: SessionView
    seq: int
    message_id: int
    ticket_id: int
    duplicate: bool


def post_message(
    ctx: Ctx,
    options: ChatOptions,
    ref: SessionRef,
    client_id: str,
    body: str,
    upload_ids: list[int],
    language: str,
) -> Posted:
    c, token = conversation_of(ctx, ref)
    seen = repo.event_by_client_id(ctx.session, c.id, client_id)
    if seen is not None:
        return Posted(view(c, token), seen.seq, seen.message_id, c.ticket_id or 0, True)
    item = InboundMessage(
        sender_kind=c.identity_kind,
        sender_value=c.identity_value,
        sender_name=c.name or text(c.language, "visitor", id=c.public_id[:6]),
        text=body,
        external_id=f"{c.public_id}:{client_id}",
        language=language,
        team_id=c.team_id,
    )
    files = _files(ctx, c.id, upload_ids)
    result = channels.ingest(ctx, options.account, CHANNEL, "conversation", item, files)
    assert result.message_id is not None
    ticket = tickets.ticket_head(ctx, None, result.ticket_id)
    now = ctx.now()
    seq = repo.number_visitor_message(
        ctx.session, c.id, now, ticket.id, ticket.requester_id, language
    )
    c = replace(c, ticket_id=ticket.id, last_seq=seq, language=language)
    message_id = result.message_id
    repo.insert_event(ctx.session, c.id, seq, message_id, "customer", client_id, now)
    shown = repo.files_of(ctx.session, [message_id]) if files else {}
    frame = _frame(seq, message_id, "customer", "", body.strip(), now, client_id, shown)
    _announce(ctx, c, ticket, seq, message_id, None, frame)
    return Posted(view(c, token), seq, message_id, ticket.id, duplicate=False)


def _files(ctx: Ctx, session_id: int, upload_ids: list[int]) -> list[tuple[str, StoredFile]]:
    found = {u.id: u for u in repo.uploads(ctx.session, session_id, upload_ids)}
    root = ctx.settings.attachments_dir
    files = []
    for index, upload_id in enumerate(upload_ids):
        u = found.get(upload_id)
        if u is None:
            raise invalid(["uploads", index], f"no upload {upload_id} in this conversation")
        stored = StoredFile(u.sha256, u.size, u.content_type, path_for(root, u.sha256))
        files.append((u.filename, stored))
    return files


class TicketRef(NamedTuple):
    """What announcing a numbered message says of its ticket."""

    id: int
    team_id: int | None
    assignee_id: int | None


def number_reply(ctx: Ctx, ticket_id: int, message_id: int, to: str) -> list[tuple[str, int]]:
    """An agent's reply joins every web chat conversation on its ticket; returns
    (conversation, number) pairs. Earlier replies not numbered yet are numbered first, so a
    conversation shows replies in the order they were written even when the outbox sends
    them concurrently. A visitor who does not get it within the delay gets a transcript by
    email (``TRANSCRIPT_KIND``)."""
    rows = repo.conversations_with_ticket(ctx.session, ticket_id)
    if rows:
        return _number_into(ctx, _ticket_of(rows[0]), message_id, rows)
    head = tickets.ticket_head(ctx, None, ticket_id)
    ticket = TicketRef(head.id, head.team_id, head.assignee_id)
    return _number_into(ctx, ticket, message_id, _conversations_for_reply(ctx, ticket_id, to))


def _ticket_of(row: Any) -> TicketRef:
    return TicketRef(row.ticket_id, row.ticket_team_id, row.ticket_assignee_id)


def number_on_write(ctx: Ctx, event: Event) -> None:
    """Emit hook (``api.install``): an agent's public web chat reply is numbered in the
    transaction that writes it, so it reaches the visitor when that commits rather than
    after another write job. A ticket with no conversation of its own (a merged one) is
    left to the outbox, which addresses the reply."""
    if event.name != "message.created":
        return
    data = event.payload
    if data.get("channel") != CHANNEL or data.get("author_type") != "agent":
        return
    if data.get("visibility") != "public":
        return
    rows = repo.conversations_with_ticket(ctx.session, int(data["ticket_id"]))
    if rows:
        _number_into(ctx, _ticket_of(rows[0]), int(data["message_id"]), rows)


def _number_into(
    ctx: Ctx, ticket: TicketRef, message_id: int, conversations: Sequence[Any]
) -> list[tuple[str, int]]:
    """``conversations``: ``Conversation`` objects or rows with their fields."""
    numbered = []
    for row in conversations:
        c = row if isinstance(row, Conversation) else Conversation.of(row)
        ids = repo.replies_to_number(ctx.session, c.id, ticket.id, message_id)
        if message_id not in ids:
            seq = repo.event_seq_by_message(ctx.session, c.id, message_id)
            if seq is not None:  # numbered already (the outbox retried the send)
                numbered.append((c.public_id, seq))
                continue
            ids.append(message_id)
        seqs = _number_replies(ctx, c, ticket, ids)
        numbered.append((c.public_id, seqs[message_id]))
    return numbered


def _number_replies(ctx: Ctx, c: Conversation, ticket: TicketRef, ids: list[int]) -> dict[int, int]:
    rows, shown = repo.reply_rows_with_files(ctx.session, ids)
    delay = transcript_delay_s(repo.account_settings(ctx.session, c.account_id)) if c.email else 0
    seqs = {}
    for message_id in ids:
        now, r = ctx.now(), rows[message_id]
        seq = repo.number_reply(ctx.session, c.id, now, ticket.id)
        repo.insert_event(ctx.session, c.id, seq, message_id, "agent", None, now)
        frame = _frame(seq, message_id, "agent", r.name, r.body_text, r.created_at, None, shown)
        _announce(ctx, c, ticket, seq, message_id, r.author_user_id, frame)
        if c.email:
            outbox.enqueue(
                ctx,
                TRANSCRIPT_KIND,
                {"session_id": c.id, "seq": seq},
                key=f"webchat-transcript:{c.id}:{seq}",
                delay_s=delay,
            )
        seqs[message_id] = seq
    return seqs


def _conversations_for_reply(ctx: Ctx, ticket_id: int, to: str) -> list[Conversation]:
    """The conversations on the ticket; else (a merged ticket) the one the reply is
    addressed to: a visitor's conversation id, or a signed-in visitor's latest."""
    found = [Conversation.of(r) for r in repo.conversations_of_ticket(ctx.session, ticket_id)]
    if not found:
        row = repo.conversation_for_address(ctx.session, to)
        found = [Conversation.of(row)] if row is not None else []
    if not found:
        raise NotFound("Web chat conversation of ticket", ticket_id)
    return found


def _announce(
    ctx: Ctx,
    c: Conversation,
    ticket: TicketRef | tickets.TicketHead,
    seq: int,
    message_id: int,
    author_user_id: int | None,
    frame: dict[str, Any],
) -> None:
    ctx.emit(
        "webchat.message",
        session_id=c.id,
        conversation=c.public_id,
        ticket_id=ticket.id,
        seq=seq,
        message_id=message_id,
        author=frame["from"],
        author_user_id=author_user_id,
        visitor=c.name,
        team_id=ticket.team_id,
        assignee_id=ticket.assignee_id,
        frame=frame,
    )


def frames(
    ctx: Ctx, session_id: int, after_seq: int, until_seq: int | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """The widget's view of messages ``after_seq`` < seq ≤ ``until_seq``, in order."""
    rows = repo.frame_rows(ctx.session, session_id, after_seq, until_seq, limit)
    shown = repo.files_of(ctx.session, [r.message_id for r in rows])
    return [
        _frame(r.seq, r.message_id, r.author, r.name, r.body_text, r.created_at, r.client_id, shown)
        for r in rows
    ]


def _frame(
    seq: int,
    message_id: int,
    author: str,
    name: str | None,
    body: str,
    at: datetime,
    client_id: str | None,
    files: Mapping[int, Sequence[Attachment | repo.FileRef]],
) -> dict[str, Any]:
    return {
        "type": "message",
        "seq": seq,
        "id": message_id,
        "from": author,
        "author": name or "",
        "text": body,
        "files": [
            {"id": a.id, "name": a.filename, "type": a.content_type, "size": a.size}
            for a in files.get(message_id, [])
        ],
        "at": at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "client_id": client_id,
    }
