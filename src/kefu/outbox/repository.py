"""Every query of the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from kefu.db import table_of
from kefu.outbox.models import OutboxItem, OutboxStatus

_PENDING = (OutboxStatus.queued, OutboxStatus.failed)

# Every agent reply on a channel goes through these (queued with the message, claimed, marked
# sent): Core statements built once on the table, run with parameters.
_outbox = table_of(OutboxItem)
_INSERT_ITEM = insert(_outbox)
_ID_FOR_KEY = select(_outbox.c.id).where(_outbox.c.key == bindparam("key"))
_DUE = (
    select(_outbox.c.id, _outbox.c.kind, _outbox.c.payload, _outbox.c.attempts)
    .where(_outbox.c.status.in_(_PENDING), _outbox.c.next_attempt_at <= bindparam("now"))
    .where(_outbox.c.kind.in_(bindparam("kinds", expanding=True)))
    .order_by(_outbox.c.next_attempt_at, _outbox.c.id)
    .limit(bindparam("limit"))
)
_CLAIM = (
    update(_outbox)
    .where(_outbox.c.id == bindparam("item_id"), _outbox.c.attempts == bindparam("seen"))
    .where(_outbox.c.status.in_(_PENDING))
    .values(attempts=_outbox.c.attempts + 1, next_attempt_at=bindparam("until"))
    .values(updated_at=bindparam("now"))
)
_MARK_SENT = (
    update(_outbox)
    .where(_outbox.c.id == bindparam("item_id"))
    .values(status=OutboxStatus.sent, result=bindparam("outcome"), last_error=None)
    .values(updated_at=bindparam("now"))
    .returning(_outbox.c.kind, _outbox.c.payload)
)


def insert_item(session: Session, values: dict[str, Any]) -> int:
    result = session.execute(_INSERT_ITEM, values)
    key = getattr(result, "inserted_primary_key", None)  # lastrowid on SQLite: no RETURNING
    assert key is not None
    return int(key[0])


def id_for_key(session: Session, key: str) -> int | None:
    return session.execute(_ID_FOR_KEY, {"key": key}).scalar()


def release_keys(session: Session, keys: Sequence[str]) -> None:
    if keys:
        session.execute(update(_outbox).where(_outbox.c.key.in_(list(keys))).values(key=None))


def due(
    session: Session, now: datetime, kinds: Sequence[str], limit: int
) -> list[tuple[int, str, dict[str, Any], int]]:
    """(id, kind, payload, attempts) of due items, the oldest first."""
    params = {"now": now, "kinds": list(kinds), "limit": limit}
    return [(r[0], r[1], r[2], r[3]) for r in session.execute(_DUE, params)]


def claim(session: Session, item_id: int, attempts: int, until: datetime, now: datetime) -> bool:
    """Take an item for one attempt: bump its attempt count and push its next try out, so
    another process (or a crash) does not deliver it twice at once."""
    params = {"item_id": item_id, "seen": attempts, "until": until, "now": now}
    return bool(getattr(session.execute(_CLAIM, params), "rowcount", 0))


def mark_sent(
    session: Session, item_id: int, result: dict[str, Any] | None, now: datetime
) -> tuple[str, dict[str, Any]] | None:
    """(kind, payload) of the item now marked sent; None if there is no such item."""
    params = {"item_id": item_id, "outcome": result, "now": now}
    row = session.execute(_MARK_SENT, params).first()
    return None if row is None else (row[0], row[1])


def get(session: Session, item_id: int) -> OutboxItem | None:
    return session.get(OutboxItem, item_id)


def page(
    session: Session, kind: str | None, status: str | None, after_id: int | None, limit: int
) -> Sequence[OutboxItem]:
    stmt = select(OutboxItem)
    if kind:
        stmt = stmt.where(OutboxItem.kind == kind)
    if status:
        stmt = stmt.where(OutboxItem.status == status)
    if after_id is not None:
        stmt = stmt.where(OutboxItem.id < after_id)
    return session.scalars(stmt.order_by(OutboxItem.id.desc()).limit(limit)).all()
