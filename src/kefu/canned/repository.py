"""Every query of canned replies."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.canned.models import CannedReply


def list_replies(session: Session, q: str | None, limit: int) -> Sequence[CannedReply]:
    stmt = select(CannedReply)
    if q:
        pattern = f"%{q.lower()}%"
        stmt = stmt.where(
            func.lower(CannedReply.title).like(pattern) | func.lower(CannedReply.body).like(pattern)
        )
    return session.scalars(stmt.order_by(CannedReply.title, CannedReply.id).limit(limit)).all()


def get(session: Session, reply_id: int) -> CannedReply | None:
    return session.get(CannedReply, reply_id)


def add(session: Session, reply: CannedReply) -> None:
    session.add(reply)
    session.flush()


def delete(session: Session, reply: CannedReply) -> None:
    session.delete(reply)
    session.flush()
