"""Every query of the tickets domain but the lists and counts (``list_repository.py``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import CursorResult, Result, Row
from sqlalchemy.orm import Session

from kefu.accounts.models import Team, User
from kefu.customers.models import Customer, CustomerIdentity
from kefu.db import table_of
from kefu.kit.text import search_document
from kefu.tickets.models import (
    Attachment,
    Message,
    Ticket,
    TicketEvent,
    TicketFollower,
    TicketLink,
    TicketTag,
)


@dataclass
class TicketFilter:
    status: list[str] = field(default_factory=list)
    priority: list[int] = field(default_factory=list)
    assignee_id: int | None = None
    unassigned: bool = False
    team_id: int | None = None
    tag: str | None = None
    channel: str | None = None
    requester_id: int | None = None
    custom: dict[str, str] = field(default_factory=dict)  # as written; the service types it
    created_from: datetime | None = None
    created_to: datetime | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    q: str | None = None
    team_ids: list[int] = field(default_factory=list)
    solved_from: datetime | None = None
    ids: list[int] = field(default_factory=list)


# -- writes ------------------------------------------------------------------------------
# Hot-path statements are built once, on the tables rather than the ORM classes, and run with
# parameters: SQLAlchemy then reuses their cache key and compiled form, where building a
# statement per call cost more CPU than SQLite spent running it (see docs/benchmarks.md).
# No RETURNING: ``inserted_primary_key`` is the cursor's lastrowid on SQLite, a lighter
# result than a returned row (about a tenth of the writer's CPU per ticket); SQLAlchemy adds
# RETURNING by itself on PostgreSQL.
_INSERT_TICKET = insert(table_of(Ticket))
_INSERT_MESSAGE = insert(table_of(Message))
_INSERT_EVENT = insert(table_of(TicketEvent))
_INSERT_TAG = insert(table_of(TicketTag))
_INSERT_FTS = text("INSERT INTO ticket_fts(rowid, body, ticket_id) VALUES (:r, :b, :t)")
# PostgreSQL keeps kefu's own tokens as lexemes (no parser of its own in between), so a word
# kit.text cuts is found the same way on both databases, whatever its script.
_INSERT_SEARCH = text(
    "INSERT INTO ticket_search(ticket_id, message_id, document)"
    " VALUES (:t, :m, array_to_tsvector(string_to_array(:b, ' ')))"
)


def insert_ticket(session: Session, values: dict[str, Any]) -> int:
    return _new_id(session.execute(_INSERT_TICKET, values))


def insert_message(session: Session, values: dict[str, Any]) -> int:
    return _new_id(session.execute(_INSERT_MESSAGE, values))


def _new_id(result: Result[Any]) -> int:
    assert isinstance(result, CursorResult)
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def insert_events(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(_INSERT_EVENT, rows)


def add_tags(session: Session, ticket_id: int, tags: Iterable[str]) -> None:
    rows = [{"ticket_id": ticket_id, "tag": t} for t in tags]
    if rows:
        session.execute(_INSERT_TAG, rows)


def remove_tags(session: Session, ticket_id: int, tags: Iterable[str]) -> None:
    doomed = list(tags)
    if doomed:
        session.execute(
            delete(TicketTag).where(TicketTag.ticket_id == ticket_id, TicketTag.tag.in_(doomed))
        )


def set_followers(session: Session, ticket_id: int, user_ids: Iterable[int]) -> None:
    session.execute(delete(TicketFollower).where(TicketFollower.ticket_id == ticket_id))
    rows = [{"ticket_id": ticket_id, "user_id": u} for u in sorted(set(user_ids))]
    if rows:
        session.execute(insert(TicketFollower), rows)


def index_text(
    session: Session, ticket_id: int, message_id: int | None, body: str, *, replace: bool = False
) -> None:
    """Search rows: one per message, and the subject's under ``message_id=None``."""
    if replace:
        if session.get_bind().dialect.name == "sqlite":
            rowid = message_id if message_id is not None else -ticket_id
            session.execute(text("DELETE FROM ticket_fts WHERE rowid = :r"), {"r": rowid})
        else:
            key = (
                "message_id = :m"
                if message_id is not None
                else "message_id IS NULL AND ticket_id = :t"
            )
            session.execute(
                text(f"DELETE FROM ticket_search WHERE {key}"), {"m": message_id, "t": ticket_id}
            )
    index_texts(session, ticket_id, [(message_id, body)])


def index_texts(session: Session, ticket_id: int, texts: list[tuple[int | None, str]]) -> None:
    """New search rows of one ticket, (message id or None for the subject, text) each, in one
    statement: a new ticket's subject and first message cost one execution, not two."""
    if session.get_bind().dialect.name == "sqlite":
        rows = [
            {"r": m if m is not None else -ticket_id, "b": search_document(b), "t": ticket_id}
            for m, b in texts
        ]
        session.execute(_INSERT_FTS, rows)
        return
    rows = [{"t": ticket_id, "m": m, "b": search_document(b)} for m, b in texts]
    session.execute(_INSERT_SEARCH, rows)


def move_search_rows(session: Session, message_ids: list[int], ticket_id: int) -> None:
    if not message_ids:
        return
    if session.get_bind().dialect.name == "sqlite":
        stmt = text("UPDATE ticket_fts SET ticket_id = :t WHERE rowid = :r")
        session.execute(stmt, [{"t": ticket_id, "r": m} for m in message_ids])
    else:
        stmt = text("UPDATE ticket_search SET ticket_id = :t WHERE message_id = :m")
        session.execute(stmt, [{"t": ticket_id, "m": m} for m in message_ids])


# -- single tickets ----------------------------------------------------------------------
def get_ticket(session: Session, ticket_id: int) -> Ticket | None:
    return session.get(Ticket, ticket_id)


def get_tickets(session: Session, ids: Iterable[int]) -> dict[int, Ticket]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(wanted)))}


def team_is_private(session: Session, team_id: int | None) -> bool:
    if team_id is None:
        return False
    return bool(session.execute(_TEAM_PRIVATE, {"team_id": team_id}).scalar())


def team_name(session: Session, team_id: int) -> str | None:
    """The team's name, None if there is no such team."""
    found = session.execute(_TEAM_NAME, {"team_id": team_id}).scalar()
    return None if found is None else str(found)


_TEAM_PRIVATE = select(Team.__table__.c.private).where(Team.__table__.c.id == bindparam("team_id"))
_TEAM_NAME = select(Team.__table__.c.name).where(Team.__table__.c.id == bindparam("team_id"))


_tickets = table_of(Ticket)
_teams = table_of(Team)
# Reads build these once (see the writes above): per call, building them cost more than
# running them. They go through the session, which flushes pending changes first.
_ACCESS_OF = (
    select(_tickets.c.team_id, _teams.c.private, _tickets.c.assignee_id)
    .outerjoin(_teams, _teams.c.id == _tickets.c.team_id)
    .where(_tickets.c.id == bindparam("ticket_id"))
)


def access_of(session: Session, ticket_id: int) -> tuple[int | None, bool, int | None] | None:
    """(team id, whether that team is private, assignee id) of a ticket, None if missing:
    what ``permissions.can_see_ticket`` needs."""
    row = session.execute(_ACCESS_OF, {"ticket_id": ticket_id}).first()
    return None if row is None else (row[0], bool(row[1]), row[2])


# Every chat message and reply reads these columns of its ticket, and most change nothing
# but ``updated_at``: a Core row and a Core update cost a quarter of the ORM's load and flush.
_HEAD_OF = (
    select(
        _tickets.c.id,
        _tickets.c.status,
        _tickets.c.requester_id,
        _tickets.c.team_id,
        _teams.c.private,
        _tickets.c.assignee_id,
        _tickets.c.channel,
        _tickets.c.merged_into_id,
        _tickets.c.first_responded_at,
    )
    .outerjoin(_teams, _teams.c.id == _tickets.c.team_id)
    .where(_tickets.c.id == bindparam("ticket_id"))
)
_TOUCH = (
    update(_tickets)
    .where(_tickets.c.id == bindparam("ticket_id"))
    .values(updated_at=bindparam("now"))
)


def head_of(session: Session, ticket_id: int) -> tuple[Any, ...] | None:
    """(id, status, requester id, team id, team private, assignee id, channel, merged into,
    first responded at) of a ticket, None if missing."""
    row = session.execute(_HEAD_OF, {"ticket_id": ticket_id}).first()
    return None if row is None else tuple(row)


def loaded_ticket(session: Session, ticket_id: int) -> Ticket | None:
    """The ticket if this session holds it already (never a query)."""
    found = session.identity_map.get(session.identity_key(Ticket, ticket_id))
    return found if isinstance(found, Ticket) else None


def touch_ticket(session: Session, ticket_id: int, now: datetime) -> None:
    """``updated_at = now``: on the session's object when it holds one (so the object does
    not go stale), else in one statement."""
    loaded = loaded_ticket(session, ticket_id)
    if loaded is not None:
        loaded.updated_at = now
    else:
        session.execute(_TOUCH, {"ticket_id": ticket_id, "now": now})


_tags = table_of(TicketTag)
_TAGS_OF = (
    select(_tags.c.ticket_id, _tags.c.tag)
    .where(_tags.c.ticket_id.in_(bindparam("ids", expanding=True)))
    .order_by(_tags.c.tag)
)


def tags_of(session: Session, ticket_ids: Iterable[int]) -> dict[int, list[str]]:
    ids = set(ticket_ids)
    result: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for ticket_id, tag in session.execute(_TAGS_OF, {"ids": list(ids)}):
            result[ticket_id].append(tag)
    return result


_followers = table_of(TicketFollower)
_FOLLOWERS_OF = (
    select(_followers.c.user_id)
    .where(_followers.c.ticket_id == bindparam("ticket_id"))
    .order_by(_followers.c.user_id)
)
_messages = table_of(Message)
_MESSAGE_COUNT = select(func.count()).where(_messages.c.ticket_id == bindparam("ticket_id"))


def followers_of(session: Session, ticket_id: int) -> list[int]:
    return list(session.scalars(_FOLLOWERS_OF, {"ticket_id": ticket_id}))


def message_count(session: Session, ticket_id: int) -> int:
    return int(session.scalar(_MESSAGE_COUNT, {"ticket_id": ticket_id}) or 0)


_identities = table_of(CustomerIdentity)
# Neither kind nor order in SQL: with them SQLite (lacking statistics) walked every email
# identity through the (kind, value) index. A customer has a handful of identities.
_IDENTITIES_OF = select(
    _identities.c.customer_id, _identities.c.id, _identities.c.kind, _identities.c.value
).where(_identities.c.customer_id.in_(bindparam("ids", expanding=True)))


def emails_of(session: Session, customer_ids: Iterable[int]) -> dict[int, str]:
    """Each customer's oldest email address."""
    ids = set(customer_ids)
    if not ids:
        return {}
    oldest: dict[int, tuple[int, str]] = {}
    for customer_id, identity_id, kind, value in session.execute(
        _IDENTITIES_OF, {"ids": list(ids)}
    ):
        if kind == "email":
            found = (identity_id, value)
            oldest[customer_id] = min(oldest.get(customer_id, found), found)
    return {customer_id: value for customer_id, (_, value) in oldest.items()}


def move_requester(session: Session, source_id: int, target_id: int) -> int:
    result = session.execute(
        update(Ticket).where(Ticket.requester_id == source_id).values(requester_id=target_id)
    )
    session.execute(
        update(Message)
        .where(Message.author_customer_id == source_id)
        .values(author_customer_id=target_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# -- messages, attachments, history, links ------------------------------------------------
def get_message(session: Session, message_id: int) -> Message | None:
    return session.get(Message, message_id)


_OUTBOUND_ROW = (
    select(
        _messages.c.ticket_id,
        _messages.c.channel,
        _messages.c.body_text,
        _messages.c.body_html,
        _tickets.c.requester_id,
        _tickets.c.subject,
    )
    .join(_tickets, _tickets.c.id == _messages.c.ticket_id)
    .where(_messages.c.id == bindparam("message_id"))
)
_attachments = table_of(Attachment)
_FILES_TO_SEND = (
    select(_attachments.c.filename, _attachments.c.content_type, _attachments.c.sha256)
    .where(_attachments.c.message_id == bindparam("message_id"))
    .order_by(_attachments.c.id)
)


def outbound_row(session: Session, message_id: int) -> tuple[Any, ...] | None:
    """(ticket id, channel, text, html, requester id, subject) of a message to send."""
    row = session.execute(_OUTBOUND_ROW, {"message_id": message_id}).first()
    return None if row is None else tuple(row)


def files_to_send(session: Session, message_id: int) -> list[tuple[str, str, str]]:
    """(filename, content type, sha256) of a message's attachments, in order."""
    rows = session.execute(_FILES_TO_SEND, {"message_id": message_id})
    return [(r[0], r[1], r[2]) for r in rows]


_DELIVERY_OF = select(_messages.c.id, _messages.c.ticket_id, _messages.c.delivery_status).where(
    _messages.c.id.in_(bindparam("ids", expanding=True))
)
_SET_DELIVERY = (
    update(_messages)
    .where(_messages.c.id.in_(bindparam("ids", expanding=True)))
    .values(delivery_status=bindparam("status"))
)


def delivery_of(session: Session, message_ids: Sequence[int]) -> list[tuple[int, int, str | None]]:
    """(id, ticket id, delivery status) of these messages, the session's objects' values
    where it holds them."""
    found = []
    for row in session.execute(_DELIVERY_OF, {"ids": list(message_ids)}):
        loaded = session.identity_map.get(session.identity_key(Message, row[0]))
        status = loaded.delivery_status if isinstance(loaded, Message) else row[2]
        found.append((int(row[0]), int(row[1]), status))
    return found


_UPDATE_MESSAGE: dict[tuple[str, ...], Any] = {}


def update_message(session: Session, message_id: int, values: dict[str, Any]) -> None:
    """Set these columns of a message: on the session's object when it holds one, else in
    one statement (built once per set of columns)."""
    loaded = session.identity_map.get(session.identity_key(Message, message_id))
    if isinstance(loaded, Message):
        for name, value in values.items():
            setattr(loaded, name, value)
        return
    names = tuple(sorted(values))
    stmt = _UPDATE_MESSAGE.get(names)
    if stmt is None:
        stmt = _UPDATE_MESSAGE[names] = (
            update(_messages)
            .where(_messages.c.id == bindparam("message_id"))
            .values({name: bindparam(f"v_{name}") for name in names})
        )
    params = {f"v_{name}": value for name, value in values.items()}
    session.execute(stmt, {"message_id": message_id, **params})


def set_delivery_status(session: Session, message_ids: Sequence[int], status: str) -> None:
    """One statement for them all; a message the session holds is changed on its object."""
    rest = []
    for message_id in message_ids:
        loaded = session.identity_map.get(session.identity_key(Message, message_id))
        if isinstance(loaded, Message):
            loaded.delivery_status = status
        else:
            rest.append(message_id)
    if rest:
        session.execute(_SET_DELIVERY, {"ids": rest, "status": status})


MessageRow = Row[*tuple[Any, ...]]
_MESSAGE_PAGE = (
    select(*_messages.c)
    .where(_messages.c.ticket_id == bindparam("ticket_id"), _messages.c.id > bindparam("after"))
    .order_by(_messages.c.id)
    .limit(bindparam("limit"))
)
_PUBLIC_PAGE = _MESSAGE_PAGE.where(_messages.c.visibility == "public")


def message_page(
    session: Session, ticket_id: int, after_id: int | None, limit: int, include_notes: bool = True
) -> Sequence[MessageRow]:
    """Messages as rows with the model's attribute names: a page of 200 loaded as ORM objects
    cost four times the query."""
    statement = _MESSAGE_PAGE if include_notes else _PUBLIC_PAGE
    params = {"ticket_id": ticket_id, "after": after_id or 0, "limit": limit}
    return session.execute(statement, params).all()


def message_ids_of(session: Session, ticket_id: int) -> list[int]:
    return list(session.scalars(select(Message.id).where(Message.ticket_id == ticket_id)))


def move_messages(session: Session, message_ids: list[int], ticket_id: int) -> None:
    if not message_ids:
        return
    session.execute(update(Message).where(Message.id.in_(message_ids)).values(ticket_id=ticket_id))
    session.execute(
        update(Attachment).where(Attachment.message_id.in_(message_ids)).values(ticket_id=ticket_id)
    )


_NAMES_OF_USERS = select(User.id, User.name, User.email).where(
    User.id.in_(bindparam("ids", expanding=True))
)
_NAMES_OF_CUSTOMERS = select(Customer.id, Customer.name).where(
    Customer.id.in_(bindparam("ids", expanding=True))
)


def names_of_users(session: Session, user_ids: Iterable[int | None]) -> dict[int, tuple[str, str]]:
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    rows = session.execute(_NAMES_OF_USERS, {"ids": list(ids)})
    return {uid: (name, email) for uid, name, email in rows}


def names_of_customers(session: Session, customer_ids: Iterable[int | None]) -> dict[int, str]:
    ids = {i for i in customer_ids if i is not None}
    if not ids:
        return {}
    return dict(session.execute(_NAMES_OF_CUSTOMERS, {"ids": list(ids)}).all())


def insert_attachment(session: Session, values: dict[str, Any]) -> int:
    stmt = insert(Attachment).values(**values).returning(Attachment.id)
    return int(session.execute(stmt).scalar_one())


# Every inbound email records its original.eml (and a channel message its files) and
# attaches them in the same write: built once (see the hot-path note above).
_attachments = table_of(Attachment)
_INSERT_ATTACHMENTS = insert(_attachments).returning(
    _attachments.c.id, sort_by_parameter_order=True
)
_ATTACHMENTS_BY_ID = select(Attachment).where(Attachment.id.in_(bindparam("ids", expanding=True)))
# For files recorded with Core inserts, which no ORM object of the session holds: a plain
# update, without ``attach``'s bookkeeping of loaded Attachment objects (an agent's uploads
# are loaded to be checked before they are attached).
_ATTACH_NEW = (
    update(_attachments)
    .where(_attachments.c.id.in_(bindparam("ids", expanding=True)))
    .values(ticket_id=bindparam("ticket"), message_id=bindparam("message"))
)


def insert_attachments(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Several attachments in one statement; their ids in the order of ``rows``."""
    if not rows:
        return []
    return [int(i) for i in session.execute(_INSERT_ATTACHMENTS, rows).scalars()]


def get_attachment(session: Session, attachment_id: int) -> Attachment | None:
    return session.get(Attachment, attachment_id)


def attachments_of(session: Session, message_ids: Iterable[int]) -> dict[int, list[Attachment]]:
    ids = set(message_ids)
    result: dict[int, list[Attachment]] = {i: [] for i in ids}
    if ids:
        for a in session.scalars(_ATTACHMENTS_OF, {"ids": list(ids)}):
            result[a.message_id or 0].append(a)
    return result


_ATTACHMENTS_OF = (
    select(Attachment)
    .where(Attachment.message_id.in_(bindparam("ids", expanding=True)))
    .order_by(Attachment.id)
)


def attachments_by_id(session: Session, ids: Iterable[int]) -> dict[int, Attachment]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {a.id: a for a in session.scalars(_ATTACHMENTS_BY_ID, {"ids": list(wanted)})}


def attach(session: Session, attachment_ids: list[int], ticket_id: int, message_id: int) -> None:
    if attachment_ids:
        session.execute(
            update(Attachment)
            .where(Attachment.id.in_(attachment_ids))
            .values(ticket_id=ticket_id, message_id=message_id)
        )


def attach_new(
    session: Session, attachment_ids: list[int], ticket_id: int, message_id: int
) -> None:
    if attachment_ids:
        params = {"ids": attachment_ids, "ticket": ticket_id, "message": message_id}
        session.execute(_ATTACH_NEW, params)


def history_page(
    session: Session, ticket_id: int, after_id: int | None, limit: int
) -> Sequence[TicketEvent]:
    stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
    if after_id is not None:
        stmt = stmt.where(TicketEvent.id > after_id)
    return session.scalars(stmt.order_by(TicketEvent.id).limit(limit)).all()


def status_changed_at(session: Session, ticket_ids: Iterable[int]) -> dict[int, datetime]:
    """When each ticket's status last changed (creation counts: it is a status row too)."""
    ids = list(ticket_ids)
    if not ids:
        return {}
    stmt = (
        select(TicketEvent.ticket_id, func.max(TicketEvent.created_at))
        .where(TicketEvent.ticket_id.in_(ids), TicketEvent.field == "status")
        .group_by(TicketEvent.ticket_id)
    )
    return {int(ticket_id): at for ticket_id, at in session.execute(stmt)}


_links = table_of(TicketLink)
_LINKS_OF = (
    select(_links.c.id, _links.c.ticket_id, _links.c.other_id, _links.c.kind, _links.c.created_at)
    .where(or_(_links.c.ticket_id == bindparam("id"), _links.c.other_id == bindparam("id")))
    .order_by(_links.c.id)
)


def links_of(session: Session, ticket_id: int) -> Sequence[Row[int, int, int, str, datetime]]:
    """The links of a ticket either way, as rows (id, ticket_id, other_id, kind, created_at)."""
    return session.execute(_LINKS_OF, {"id": ticket_id}).all()


def find_link(session: Session, a: int, b: int) -> TicketLink | None:
    stmt = select(TicketLink).where(
        or_(
            and_(TicketLink.ticket_id == a, TicketLink.other_id == b),
            and_(TicketLink.ticket_id == b, TicketLink.other_id == a),
        )
    )
    return session.scalars(stmt).first()


def add(session: Session, obj: Any) -> None:
    session.add(obj)
    session.flush()


def delete_obj(session: Session, obj: Any) -> None:
    session.delete(obj)
    session.flush()


def delete_ticket(session: Session, ticket_id: int, message_ids: Sequence[int]) -> None:
    """``message_ids``: the ticket's messages (``message_ids_of``), which go with it."""
    if session.get_bind().dialect.name == "sqlite":
        rowids = [-ticket_id, *message_ids]
        session.execute(text("DELETE FROM ticket_fts WHERE rowid = :r"), [{"r": r} for r in rowids])
    session.execute(
        update(Ticket).where(Ticket.merged_into_id == ticket_id).values(merged_into_id=None)
    )
    session.execute(delete(Ticket).where(Ticket.id == ticket_id))


# -- for channels ------------------------------------------------------------------------
# Every inbound message asks these (the duplicate check, the messages it answers): built
# once, and the duplicate check reads two columns rather than loading a Message.
_messages = table_of(Message)
_MESSAGE_BY_EXTERNAL_ID = (
    select(_messages.c.id, _messages.c.ticket_id)
    .where(_messages.c.channel == bindparam("channel"))
    .where(_messages.c.external_id == bindparam("external_id"))
    .limit(1)
)
_TICKET_OF_EXTERNAL_IDS = (
    select(_messages.c.ticket_id)
    .where(_messages.c.channel == bindparam("channel"))
    .where(_messages.c.external_id.in_(bindparam("external_ids", expanding=True)))
    .order_by(_messages.c.id.desc())
    .limit(1)
)


def message_by_external_id(
    session: Session, channel: str, external_id: str
) -> tuple[int, int] | None:
    """(message id, ticket id) of the message with this vendor id."""
    params = {"channel": channel, "external_id": external_id}
    row = session.execute(_MESSAGE_BY_EXTERNAL_ID, params).first()
    return None if row is None else (row[0], row[1])


def ticket_of_external_ids(session: Session, channel: str, external_ids: list[str]) -> int | None:
    if not external_ids:
        return None
    params = {"channel": channel, "external_ids": external_ids}
    return session.execute(_TICKET_OF_EXTERNAL_IDS, params).scalar()


# Threading asks these for every inbound message: built once, reading the columns it
# decides on rather than loading Ticket objects (the one the message lands on is loaded
# once, by the conversation service).
_tickets = table_of(Ticket)
_LATEST_TICKET_OF = (
    select(_tickets.c.id, _tickets.c.status, _tickets.c.solved_at)
    .where(_tickets.c.requester_id == bindparam("requester_id"))
    .where(_tickets.c.channel == bindparam("channel"))
    .where(_tickets.c.status.in_(bindparam("statuses", expanding=True)))
    .order_by(_tickets.c.updated_at.desc(), _tickets.c.id.desc())
    .limit(1)
)
_RECENT_SUBJECTS_OF = (
    select(_tickets.c.id, _tickets.c.subject)
    .where(_tickets.c.requester_id == bindparam("requester_id"))
    .where(_tickets.c.updated_at >= bindparam("since"))
    .where(_tickets.c.status != "closed")
    .order_by(_tickets.c.updated_at.desc())
    .limit(bindparam("limit"))
)
_TICKET_STATE = select(_tickets.c.status, _tickets.c.merged_into_id).where(
    _tickets.c.id == bindparam("ticket_id")
)


def latest_ticket_of(
    session: Session, requester_id: int, channel: str, statuses: list[str]
) -> tuple[int, str, datetime | None] | None:
    """(id, status, solved_at) of the customer's latest ticket on the channel."""
    params = {"requester_id": requester_id, "channel": channel, "statuses": statuses}
    row = session.execute(_LATEST_TICKET_OF, params).first()
    return None if row is None else (row[0], row[1], row[2])


def recent_subjects_of(
    session: Session, requester_id: int, since: datetime, limit: int
) -> list[tuple[int, str]]:
    """(id, subject) of the customer's not closed tickets updated since, latest first."""
    params = {"requester_id": requester_id, "since": since, "limit": limit}
    return [(row[0], row[1]) for row in session.execute(_RECENT_SUBJECTS_OF, params)]


def ticket_state(session: Session, ticket_id: int) -> tuple[str, int | None] | None:
    """(status, merged into) of a ticket."""
    row = session.execute(_TICKET_STATE, {"ticket_id": ticket_id}).first()
    return None if row is None else (row[0], row[1])


# Every reply asks these (its channel; what an email reply answers): built once.
_LAST_CUSTOMER_EXTERNAL_ID = (
    select(_messages.c.external_id)
    .where(_messages.c.ticket_id == bindparam("ticket_id"))
    .where(_messages.c.author_type == "customer")
    .where(_messages.c.channel == bindparam("channel"), _messages.c.external_id.is_not(None))
    .order_by(_messages.c.id.desc())
    .limit(1)
)
_LAST_CUSTOMER_CHANNEL = (
    select(_messages.c.channel)
    .where(_messages.c.ticket_id == bindparam("ticket_id"))
    .where(_messages.c.author_type == "customer")
    .order_by(_messages.c.id.desc())
    .limit(1)
)


def last_customer_external_id(session: Session, ticket_id: int, channel: str) -> str | None:
    params = {"ticket_id": ticket_id, "channel": channel}
    return session.execute(_LAST_CUSTOMER_EXTERNAL_ID, params).scalar()


def last_customer_channel(session: Session, ticket_id: int) -> str | None:
    return session.execute(_LAST_CUSTOMER_CHANNEL, {"ticket_id": ticket_id}).scalar()


# -- tags as a vocabulary (admin console) --------------------------------------------------
def tag_counts(session: Session, limit: int) -> list[tuple[str, int]]:
    count = func.count().label("n")
    stmt = (
        select(TicketTag.tag, count).group_by(TicketTag.tag).order_by(count.desc(), TicketTag.tag)
    )
    return [(tag, int(n)) for tag, n in session.execute(stmt.limit(limit))]


def ticket_ids_with_tag(session: Session, tag: str) -> list[int]:
    return list(session.scalars(select(TicketTag.ticket_id).where(TicketTag.tag == tag)))


def rename_tag(session: Session, old: str, new: str, ticket_ids: list[int]) -> None:
    """``old`` becomes ``new`` on the given tickets; where both were set, one remains."""
    both = select(TicketTag.ticket_id).where(TicketTag.tag == new)
    session.execute(delete(TicketTag).where(TicketTag.tag == old, TicketTag.ticket_id.in_(both)))
    session.execute(update(TicketTag).where(TicketTag.tag == old).values(tag=new))
    bump_versions(session, ticket_ids)


def delete_tag(session: Session, tag: str, ticket_ids: list[int]) -> None:
    session.execute(delete(TicketTag).where(TicketTag.tag == tag))
    bump_versions(session, ticket_ids)


def bump_versions(session: Session, ticket_ids: list[int]) -> None:
    for start in range(0, len(ticket_ids), 1000):
        chunk = ticket_ids[start : start + 1000]
        session.execute(
            update(Ticket)
            .where(Ticket.id.in_(chunk))
            .values(version=Ticket.version + 1)
            .execution_options(synchronize_session=False)
        )
