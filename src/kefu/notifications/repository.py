"""Every query of notifications."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from kefu.notifications.models import Notification


def insert_many(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    # Core, not the ORM's bulk path: these rows are never loaded as objects here.
    stmt = insert(Notification).returning(Notification.id, sort_by_parameter_order=True)
    return list(session.connection().execute(stmt, rows).scalars())


def page(
    session: Session, user_id: int, unread_only: bool, before_id: int | None, limit: int
) -> Sequence[Notification]:
    stmt = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    if before_id is not None:
        stmt = stmt.where(Notification.id < before_id)
    return session.scalars(stmt.order_by(Notification.id.desc()).limit(limit)).all()


def unread_count(session: Session, user_id: int) -> int:
    stmt = select(func.count()).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    return int(session.scalar(stmt) or 0)


def mark_read(session: Session, user_id: int, ids: list[int] | None, now: datetime) -> int:
    stmt = update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(ids))
    result = session.execute(
        stmt.values(read_at=now), execution_options={"synchronize_session": False}
    )
    return int(getattr(result, "rowcount", 0))
