"""Every query of web chat. Frames join the core's messages (and their authors and files)
because a conversation's log holds only numbers and message ids."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from kefu.accounts.models import User
from kefu.channels.models import ChannelAccount
from kefu.channels.webchat.models import WebchatEvent, WebchatSession, WebchatUpload
from kefu.db import table_of
from kefu.tickets.models import Attachment, Message, Ticket

_sessions, _events = table_of(WebchatSession), table_of(WebchatEvent)
CONVERSATION_FIELDS = (
    "id",
    "account_id",
    "public_id",
    "identity_kind",
    "identity_value",
    "name",
    "email",
    "language",
    "team_id",
    "ticket_id",
    "last_seq",
    "agent_read_seq",
)
_CONVERSATION = select(*(_sessions.c[name] for name in CONVERSATION_FIELDS))
_INSERT_SESSION = insert(_sessions).returning(_sessions.c.id)
_INSERT_EVENT = insert(_events)


def add(session: Session, obj: Any) -> None:
    session.add(obj)
    session.flush()


def get_session(session: Session, session_id: int) -> WebchatSession | None:
    """Fresh from the database: the hot paths change conversations with Core statements."""
    return session.get(WebchatSession, session_id, populate_existing=True)


# The statements every chat message runs are built once here and run with parameters:
# built per call, SQLAlchemy's statement construction and cache key cost more CPU than the
# database spent on them (see docs/benchmarks.md, bench.chat).
_CONVERSATION_BY_ID = _CONVERSATION.where(_sessions.c.id == bindparam("sid"))
_CONVERSATIONS_OF_TICKET = _CONVERSATION.where(
    _sessions.c.ticket_id == bindparam("ticket_id")
).order_by(_sessions.c.id)
_EVENT_BY_CLIENT_ID = select(_events.c.seq, _events.c.message_id).where(
    _events.c.session_id == bindparam("sid"), _events.c.client_id == bindparam("client_id")
)
_EVENT_SEQ_BY_MESSAGE = select(_events.c.seq).where(
    _events.c.session_id == bindparam("sid"), _events.c.message_id == bindparam("message_id")
)
_REPLY_ROWS = (
    select(Message.id, Message.body_text, Message.created_at, Message.author_user_id, User.name)
    .outerjoin(User, User.id == Message.author_user_id)
    .where(Message.id.in_(bindparam("ids", expanding=True)))
)
_attachments = table_of(Attachment)
_users = table_of(User)
# A reply as it is numbered, with its files (usually none) in the same statement.
_REPLY_ROWS_WITH_FILES = (
    select(
        Message.id,
        Message.body_text,
        Message.created_at,
        Message.author_user_id,
        User.name,
        _attachments.c.id.label("file_id"),
        _attachments.c.filename,
        _attachments.c.content_type,
        _attachments.c.size,
    )
    .outerjoin(User, User.id == Message.author_user_id)
    .outerjoin(_attachments, _attachments.c.message_id == Message.id)
    .where(Message.id.in_(bindparam("ids", expanding=True)))
    .order_by(Message.id, _attachments.c.id)
)
_FILES_OF = (
    select(Attachment)
    .where(Attachment.message_id.in_(bindparam("ids", expanding=True)))
    .order_by(Attachment.message_id, Attachment.id)
)
_MESSAGE_IDS_BETWEEN = (
    select(_events.c.message_id)
    .where(_events.c.session_id == bindparam("sid"), _events.c.author == bindparam("author"))
    .where(_events.c.seq > bindparam("after"), _events.c.seq <= bindparam("until"))
    .order_by(_events.c.seq)
)
_messages = table_of(Message)
_last_numbered = (
    select(func.coalesce(func.max(_events.c.message_id), 0))
    .where(_events.c.session_id == bindparam("sid"), _events.c.author == "agent")
    .scalar_subquery()
)
_REPLIES_TO_NUMBER = (
    select(_messages.c.id)
    .where(_messages.c.ticket_id == bindparam("ticket_id"))
    .where(_messages.c.id <= bindparam("up_to"), _messages.c.id > _last_numbered)
    .where(_messages.c.author_type == "agent", _messages.c.visibility == "public")
    .where(_messages.c.channel == "webchat")
    .order_by(_messages.c.id)
)


_RECEIPT_STATE = select(
    _sessions.c.received_seq, _sessions.c.read_seq, _sessions.c.last_seq, _sessions.c.ticket_id
).where(_sessions.c.id == bindparam("sid"))
_SET_RECEIPTS = (
    update(_sessions)
    .where(_sessions.c.id == bindparam("sid"))
    .values(received_seq=bindparam("received"), read_seq=bindparam("read"))
)


def receipt_state(session: Session, session_id: int) -> tuple[int, int, int, int | None] | None:
    """(received up to, read up to, last number, ticket id) of a conversation."""
    row = session.execute(_RECEIPT_STATE, {"sid": session_id}).first()
    return None if row is None else (int(row[0]), int(row[1]), int(row[2]), row[3])


def set_receipts(session: Session, session_id: int, received: int, read: int) -> None:
    session.execute(_SET_RECEIPTS, {"sid": session_id, "received": received, "read": read})


class FileRef(NamedTuple):
    """An attachment as a frame shows it."""

    id: int
    filename: str
    content_type: str
    size: int


def reply_rows_with_files(
    session: Session, message_ids: Sequence[int]
) -> tuple[dict[int, Any], dict[int, list[FileRef]]]:
    """``reply_rows`` by id and ``files_of``, in one statement."""
    rows: dict[int, Any] = {}
    files: dict[int, list[FileRef]] = {}
    for r in session.execute(_REPLY_ROWS_WITH_FILES, {"ids": list(message_ids)}):
        rows.setdefault(r.id, r)
        if r.file_id is not None:
            files.setdefault(r.id, []).append(
                FileRef(r.file_id, r.filename, r.content_type, r.size)
            )
    return rows, files


_tickets = table_of(Ticket)
_CONVERSATIONS_WITH_TICKET = (
    select(
        *(_sessions.c[name] for name in CONVERSATION_FIELDS),
        _tickets.c.team_id.label("ticket_team_id"),
        _tickets.c.assignee_id.label("ticket_assignee_id"),
    )
    .join(_tickets, _tickets.c.id == _sessions.c.ticket_id)
    .where(_sessions.c.ticket_id == bindparam("ticket_id"))
    .order_by(_sessions.c.id)
)


def conversations_with_ticket(session: Session, ticket_id: int) -> Sequence[Any]:
    """``conversations_of_ticket`` with the ticket's ``ticket_team_id`` and
    ``ticket_assignee_id`` on each row: what numbering a reply reads, in one statement."""
    return session.execute(_CONVERSATIONS_WITH_TICKET, {"ticket_id": ticket_id}).all()


def conversation_row(session: Session, session_id: int) -> Any:
    return session.execute(_CONVERSATION_BY_ID, {"sid": session_id}).first()


def insert_session(session: Session, values: dict[str, Any]) -> int:
    return int(session.execute(_INSERT_SESSION, values).scalar_one())


def conversations_of_ticket(session: Session, ticket_id: int) -> Sequence[Any]:
    return session.execute(_CONVERSATIONS_OF_TICKET, {"ticket_id": ticket_id}).all()


def conversation_for_address(session: Session, address: str) -> Any:
    """A visitor's conversation id, or the latest conversation of a signed-in visitor."""
    by_id = session.execute(_CONVERSATION.where(_sessions.c.public_id == address)).first()
    if by_id is not None:
        return by_id
    stmt = (
        _CONVERSATION.where(_sessions.c.identity_kind.in_(("email", "external")))
        .where(_sessions.c.identity_value == address)
        .order_by(_sessions.c.updated_at.desc(), _sessions.c.id.desc())
        .limit(1)
    )
    return session.execute(stmt).first()


def session_by_token(session: Session, token_digest: str) -> WebchatSession | None:
    stmt = select(WebchatSession).where(WebchatSession.token_digest == token_digest)
    return session.scalars(stmt).first()


def _numbering(**values: Any) -> Any:
    """UPDATE … SET last_seq = last_seq + 1, … RETURNING last_seq, built once per shape."""
    return (
        update(_sessions)
        .where(_sessions.c.id == bindparam("sid"))
        .values(last_seq=_sessions.c.last_seq + 1, updated_at=bindparam("now"), **values)
        .returning(_sessions.c.last_seq)
    )


_NUMBER_VISITOR_MESSAGE = _numbering(
    ticket_id=bindparam("ticket_id"),
    customer_id=bindparam("customer_id"),
    language=bindparam("language"),
    first_message_at=func.coalesce(_sessions.c.first_message_at, bindparam("now")),
)
_NUMBER_REPLY = _numbering(
    ticket_id=bindparam("ticket_id"),
    first_reply_at=func.coalesce(_sessions.c.first_reply_at, bindparam("now")),
)


def number_visitor_message(
    session: Session,
    session_id: int,
    now: datetime,
    ticket_id: int,
    customer_id: int,
    language: str,
) -> int:
    """Take the conversation's next number, and note its ticket. The row update serialises
    writers of the same conversation (on PostgreSQL it holds the row lock until commit),
    so numbers are given in commit order."""
    values = {"sid": session_id, "now": now, "ticket_id": ticket_id}
    values |= {"customer_id": customer_id, "language": language}
    return int(session.execute(_NUMBER_VISITOR_MESSAGE, values).scalar_one())


def number_reply(session: Session, session_id: int, now: datetime, ticket_id: int) -> int:
    values = {"sid": session_id, "now": now, "ticket_id": ticket_id}
    return int(session.execute(_NUMBER_REPLY, values).scalar_one())


def insert_event(
    session: Session,
    session_id: int,
    seq: int,
    message_id: int,
    author: str,
    client_id: str | None,
    now: datetime,
) -> None:
    session.execute(
        _INSERT_EVENT,
        {
            "session_id": session_id,
            "seq": seq,
            "message_id": message_id,
            "author": author,
            "client_id": client_id,
            "created_at": now,
        },
    )


def event_by_client_id(session: Session, session_id: int, client_id: str) -> Any:
    params = {"sid": session_id, "client_id": client_id}
    return session.execute(_EVENT_BY_CLIENT_ID, params).first()


def event_seq_by_message(session: Session, session_id: int, message_id: int) -> int | None:
    params = {"sid": session_id, "message_id": message_id}
    found = session.execute(_EVENT_SEQ_BY_MESSAGE, params).scalar()
    return None if found is None else int(found)


def reply_rows(session: Session, message_ids: Sequence[int]) -> Sequence[Any]:
    """(id, text, created at, agent's id and name) of agents' replies."""
    return session.execute(_REPLY_ROWS, {"ids": list(message_ids)}).all()


def frame_rows(
    session: Session, session_id: int, after_seq: int, until_seq: int | None, limit: int
) -> Sequence[Any]:
    """(seq, message id, author, client id, created at, text, agent's id and name)."""
    stmt = (
        select(
            WebchatEvent.seq,
            WebchatEvent.message_id,
            WebchatEvent.author,
            WebchatEvent.client_id,
            Message.created_at,
            Message.body_text,
            Message.author_user_id,
            User.name,
        )
        .join(Message, Message.id == WebchatEvent.message_id)
        .outerjoin(User, User.id == Message.author_user_id)
        .where(WebchatEvent.session_id == session_id, WebchatEvent.seq > after_seq)
        .order_by(WebchatEvent.seq)
        .limit(limit)
    )
    if until_seq is not None:
        stmt = stmt.where(WebchatEvent.seq <= until_seq)
    return session.execute(stmt).all()


def files_of(session: Session, message_ids: Sequence[int]) -> dict[int, list[Attachment]]:
    found: dict[int, list[Attachment]] = {}
    if not message_ids:
        return found
    for attachment in session.scalars(_FILES_OF, {"ids": list(message_ids)}):
        assert attachment.message_id is not None
        found.setdefault(attachment.message_id, []).append(attachment)
    return found


def message_ids_between(
    session: Session, session_id: int, author: str, after_seq: int, until_seq: int
) -> list[int]:
    params = {"sid": session_id, "author": author, "after": after_seq, "until": until_seq}
    return list(session.execute(_MESSAGE_IDS_BETWEEN, params).scalars())


def last_seq_by(session: Session, session_id: int, author: str) -> int:
    stmt = (
        select(WebchatEvent.seq)
        .where(WebchatEvent.session_id == session_id, WebchatEvent.author == author)
        .order_by(WebchatEvent.seq.desc())
        .limit(1)
    )
    return int(session.scalar(stmt) or 0)


def uploads(session: Session, session_id: int, upload_ids: Sequence[int]) -> list[WebchatUpload]:
    if not upload_ids:
        return []
    stmt = select(WebchatUpload).where(
        WebchatUpload.session_id == session_id, WebchatUpload.id.in_(upload_ids)
    )
    return list(session.scalars(stmt))


def count_uploads_since(session: Session, session_id: int, since: datetime) -> int:
    stmt = select(func.count(WebchatUpload.id)).where(
        WebchatUpload.session_id == session_id, WebchatUpload.created_at >= since
    )
    return int(session.scalar(stmt) or 0)


def recent_reply_delays(
    session: Session, account_id: int, since: datetime, limit: int
) -> list[float]:
    """Seconds from a conversation's first message to its first reply, newest first."""
    stmt = (
        select(WebchatSession.first_message_at, WebchatSession.first_reply_at)
        .where(WebchatSession.account_id == account_id, WebchatSession.first_reply_at >= since)
        .order_by(WebchatSession.first_reply_at.desc())
        .limit(limit)
    )
    return [
        (replied - first).total_seconds()
        for first, replied in session.execute(stmt)
        if first is not None and replied is not None
    ]


def replies_to_number(
    session: Session, session_id: int, ticket_id: int, up_to_message_id: int
) -> list[int]:
    """Agents' web chat replies on the ticket, up to this one, newer than the conversation's
    last numbered reply: numbered together, they keep the order the agents wrote them in
    even when the outbox sends them concurrently."""
    params = {"sid": session_id, "ticket_id": ticket_id, "up_to": up_to_message_id}
    return list(session.execute(_REPLIES_TO_NUMBER, params).scalars())


def account_settings(session: Session, account_id: int) -> dict[str, Any]:
    """A channel account's plain settings (not its sealed secrets)."""
    config = session.scalar(select(ChannelAccount.config).where(ChannelAccount.id == account_id))
    return dict(config or {})
