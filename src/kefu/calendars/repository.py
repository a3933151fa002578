"""Every query of calendars."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kefu.calendars.models import BusinessCalendar


def get(session: Session, calendar_id: int) -> BusinessCalendar | None:
    return session.get(BusinessCalendar, calendar_id)


def by_name(session: Session, name: str) -> BusinessCalendar | None:
    return session.scalar(select(BusinessCalendar).where(BusinessCalendar.name == name))


def all_calendars(session: Session) -> Sequence[BusinessCalendar]:
    return session.scalars(select(BusinessCalendar).order_by(BusinessCalendar.name)).all()


def add(session: Session, values: dict[str, Any]) -> BusinessCalendar:
    calendar = BusinessCalendar(**values)
    session.add(calendar)
    session.flush()
    return calendar


def remove(session: Session, calendar_id: int) -> None:
    session.execute(delete(BusinessCalendar).where(BusinessCalendar.id == calendar_id))
