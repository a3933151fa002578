"""Every query of saved views."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kefu.views.models import SavedView


def visible_to(session: Session, user_id: int) -> Sequence[SavedView]:
    stmt = select(SavedView).where(or_(SavedView.owner_id == user_id, SavedView.shared.is_(True)))
    return session.scalars(stmt.order_by(SavedView.position, SavedView.name, SavedView.id)).all()


def get(session: Session, view_id: int) -> SavedView | None:
    return session.get(SavedView, view_id)


def add(session: Session, view: SavedView) -> None:
    session.add(view)
    session.flush()


def delete(session: Session, view: SavedView) -> None:
    session.delete(view)
    session.flush()
