"""Web chat conversations: a visitor's session (created by its first write, resumed by its
token), the pre-chat profile, receipts both ways, uploads, and what the widget is told
before the first message. Messages themselves are numbered in ``messages``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from kefu.accounts import service as accounts
from kefu.channels.webchat import repository as repo
from kefu.channels.webchat.identity import Identity
from kefu.channels.webchat.models import WebchatSession, WebchatUpload
from kefu.channels.webchat.options import ChatOptions
from kefu.customers.identities import normalise_email
from kefu.db import Ctx
from kefu.kit.crypto import digest, new_token
from kefu.kit.errors import NotFound, TooManyRequests, invalid
from kefu.security.permissions import Principal
from kefu.tickets import conversation
from kefu.tickets import service as tickets

CHANNEL = "webchat"
TRANSCRIPT_KIND = "webchat.transcript"
UPLOADS_PER_HOUR = 30


@dataclass(frozen=True)
class NewSession:
    """A conversation the widget has not started yet: created by its first write."""

    account_id: int
    token: str
    public_id: str
    identity_kind: str
    identity_value: str
    name: str
    email: str | None
    language: str


SessionRef = int | NewSession


@dataclass(frozen=True)
class SessionView:
    id: int
    public_id: str
    token: str | None  # only when this call created the conversation
    last_seq: int
    agent_read_seq: int
    ticket_id: int | None
    name: str
    email: str | None
    team_id: int | None
    identified: bool


def new_session(account_id: int, identity: Identity | None, language: str) -> NewSession:
    public_id = secrets.token_hex(12)
    if identity is None:
        kind, value, name, email = CHANNEL, public_id, "", None
    else:
        kind, value = identity.kind, identity.value(account_id)
        name, email = identity.name, identity.email
    return NewSession(account_id, new_token(), public_id, kind, value, name, email, language)


# -- sessions ----------------------------------------------------------------------------------
def resume(ctx: Ctx, account_id: int, token: str, identity: Identity | None) -> SessionView | None:
    """The conversation this token holds, if it belongs to this account and to the same
    visitor: a conversation of a signed-in visitor is not resumed anonymously, nor by
    another signed-in visitor (a shared computer)."""
    found = repo.session_by_token(ctx.session, digest(token))
    if found is None or found.account_id != account_id:
        return None
    wanted = (
        (CHANNEL, found.public_id)
        if identity is None
        else (
            identity.kind,
            identity.value(account_id),
        )
    )
    if (found.identity_kind, found.identity_value) != wanted:
        return None
    return view(Conversation.of(found))


@dataclass(frozen=True)
class Conversation:
    """A conversation's row as the hot paths read it (no ORM object)."""

    id: int
    account_id: int
    public_id: str
    identity_kind: str
    identity_value: str
    name: str
    email: str | None
    language: str
    team_id: int | None
    ticket_id: int | None
    last_seq: int
    agent_read_seq: int

    @classmethod
    def of(cls, row: Any) -> Conversation:
        """From a row or a ``WebchatSession``: anything with these attributes."""
        return cls(**{name: getattr(row, name) for name in repo.CONVERSATION_FIELDS})


def view(c: Conversation, token: str | None = None) -> SessionView:
    return SessionView(
        id=c.id,
        public_id=c.public_id,
        token=token,
        last_seq=c.last_seq,
        agent_read_seq=c.agent_read_seq,
        ticket_id=c.ticket_id,
        name=c.name,
        email=c.email,
        team_id=c.team_id,
        identified=c.identity_kind != CHANNEL,
    )


def conversation_of(ctx: Ctx, ref: SessionRef) -> tuple[Conversation, str | None]:
    """The stored conversation, created now for a ``NewSession`` (whose token is returned
    this once: only its digest is kept)."""
    if isinstance(ref, int):
        row = repo.conversation_row(ctx.session, ref)
        if row is None:
            raise NotFound("Web chat conversation", ref)
        return Conversation.of(row), None
    now = ctx.now()
    values: dict[str, Any] = {
        "account_id": ref.account_id,
        "public_id": ref.public_id,
        "identity_kind": ref.identity_kind,
        "identity_value": ref.identity_value,
        "name": ref.name,
        "email": ref.email,
        "language": ref.language,
        "team_id": None,
        "ticket_id": None,
        "last_seq": 0,
        "agent_read_seq": 0,
    }
    session_id = repo.insert_session(
        ctx.session,
        {
            **values,
            "token_digest": digest(ref.token),
            "received_seq": 0,
            "read_seq": 0,
            "transcript_seq": 0,
            "created_at": now,
            "updated_at": now,
        },
    )
    return Conversation(id=session_id, **values), ref.token


def _session(ctx: Ctx, ref: SessionRef) -> tuple[WebchatSession, str | None]:
    """The conversation as an ORM object, for the rarer writes that change several fields."""
    conversation, token = conversation_of(ctx, ref)
    found = repo.get_session(ctx.session, conversation.id)
    assert found is not None
    return found, token


def set_profile(
    ctx: Ctx,
    options: ChatOptions,
    ref: SessionRef,
    name: str,
    email: str | None,
    team_id: int | None,
    language: str,
) -> SessionView:
    """The pre-chat form. The email is where transcripts go; it is the visitor's word, not
    proof, so it never picks the customer record (only an identity token does)."""
    s, token = _session(ctx, ref)
    s.language = language
    if name.strip() and s.identity_kind == CHANNEL:
        s.name = name.strip()[:200]
    if email and s.identity_kind != "email":
        try:
            s.email = normalise_email(email)
        except ValueError as exc:
            raise invalid(["email"], str(exc)) from exc
    if team_id is not None:
        if team_id not in options.teams:
            raise invalid(["team_id"], "is not one of the teams this chat offers")
        s.team_id = team_id
    s.updated_at = ctx.now()
    return view(Conversation.of(s), token)


# -- receipts ----------------------------------------------------------------------------------
def visitor_saw(ctx: Ctx, session_id: int, seq: int, read: bool) -> int:
    """The widget received (or showed) the conversation up to ``seq``: agents' replies up to
    there are delivered (or read). Returns the new mark."""
    return visitor_marks(ctx, session_id, {read: seq})[read]


def visitor_marks(ctx: Ctx, session_id: int, marks: Mapping[bool, int]) -> dict[bool, int]:
    """``visitor_saw`` for both marks at once (read? -> up to which number), in one write
    job: received first, then read. A mark at or below the stored one reads one row and
    writes nothing. Returns the stored marks."""
    state = repo.receipt_state(ctx.session, session_id)
    if state is None:
        raise NotFound("Web chat conversation", session_id)
    received, read_seq, last_seq, ticket_id = state
    stored: dict[bool, int] = {}
    changed = False
    for read, wanted in sorted(marks.items()):
        current = read_seq if read else received
        seq = min(wanted, last_seq)
        if seq <= current:
            stored[read] = current
            continue
        ids = repo.message_ids_between(ctx.session, session_id, "agent", current, seq)
        conversation.set_deliveries(ctx, ids, "read" if read else "delivered")
        if read:
            read_seq, received = seq, max(received, seq)
            _announce_read(ctx, ticket_id, session_id, "customer", None, seq, ids)
        else:
            received = seq
        stored[read], changed = seq, True
    if changed:
        repo.set_receipts(ctx.session, session_id, received, read_seq)
    return stored


def agent_read(ctx: Ctx, actor: Principal, ticket_id: int) -> int:
    """An agent read the ticket: the visitor's messages are marked read and the widget is
    told. Returns the number of messages newly marked."""
    tickets.load_ticket(ctx, actor, ticket_id)
    marked = 0
    for row in repo.conversations_of_ticket(ctx.session, ticket_id):
        s, _ = _session(ctx, row.id)
        last = repo.last_seq_by(ctx.session, s.id, "customer")
        if last <= s.agent_read_seq:
            continue
        ids = repo.message_ids_between(ctx.session, s.id, "customer", s.agent_read_seq, last)
        conversation.set_deliveries(ctx, ids, "read")
        s.agent_read_seq = last
        _announce_read(ctx, s.ticket_id, s.id, "agent", actor.user_id, last, ids)
        marked += len(ids)
    return marked


def _announce_read(
    ctx: Ctx,
    ticket_id: int | None,
    session_id: int,
    reader: str,
    user_id: int | None,
    seq: int,
    ids: list[int],
) -> None:
    ctx.emit(
        "message.read",
        ticket_id=ticket_id,
        session_id=session_id,
        reader=reader,
        user_id=user_id,
        seq=seq,
        message_ids=ids[-100:],
    )


# -- uploads -----------------------------------------------------------------------------------
def record_upload(
    ctx: Ctx, token: str, filename: str, content_type: str, size: int, sha256: str
) -> dict[str, Any]:
    s = repo.session_by_token(ctx.session, digest(token))
    if s is None:
        raise NotFound("Web chat conversation", "for this token")
    since = ctx.now() - timedelta(hours=1)
    if repo.count_uploads_since(ctx.session, s.id, since) >= UPLOADS_PER_HOUR:
        raise TooManyRequests(f"At most {UPLOADS_PER_HOUR} files an hour", 600)
    upload = WebchatUpload(
        session_id=s.id,
        filename=filename,
        content_type=content_type,
        size=size,
        sha256=sha256,
        created_at=ctx.now(),
    )
    repo.add(ctx.session, upload)
    return {"id": upload.id, "name": filename, "type": content_type, "size": size}


# -- what the widget shows before the first message -----------------------------------------
@dataclass(frozen=True)
class ChatInfo:
    teams: list[tuple[int, str]]
    reply_delay_s: float | None  # the median of recent first replies


def chat_info(ctx: Ctx, options: ChatOptions) -> ChatInfo:
    names = {t.id: t.name for t in accounts.list_teams(ctx) if t.id in options.teams}
    since = ctx.now() - timedelta(days=7)
    delays = sorted(repo.recent_reply_delays(ctx.session, options.account_id, since, 50))
    median = delays[len(delays) // 2] if delays else None
    return ChatInfo([(t, names[t]) for t in options.teams if t in names], median)


def account_of_token(ctx: Ctx, token: str) -> int:
    s = repo.session_by_token(ctx.session, digest(token))
    if s is None:
        raise NotFound("Web chat conversation", "for this token")
    return s.account_id
