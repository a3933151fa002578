"""Every query of surveys."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.surveys.models import Survey


def add(session: Session, survey: Survey) -> None:
    session.add(survey)
    session.flush()


def by_token(session: Session, token: str) -> Survey | None:
    return session.scalars(select(Survey).where(Survey.token == token)).first()


def open_of_ticket(session: Session, ticket_id: int) -> Survey | None:
    """The newest survey of the ticket still waiting for an answer."""
    stmt = (
        select(Survey)
        .where(Survey.ticket_id == ticket_id, Survey.rating.is_(None))
        .order_by(Survey.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def of_ticket(session: Session, ticket_id: int) -> Sequence[Survey]:
    stmt = select(Survey).where(Survey.ticket_id == ticket_id).order_by(Survey.id)
    return session.scalars(stmt).all()


def latest_rated(session: Session, ticket_ids: list[int]) -> dict[int, Survey]:
    """Each ticket's most recently rated survey."""
    if not ticket_ids:
        return {}
    newest = (
        select(Survey.ticket_id, func.max(Survey.rated_at).label("at"))
        .where(Survey.ticket_id.in_(ticket_ids), Survey.rating.is_not(None))
        .group_by(Survey.ticket_id)
        .subquery()
    )
    stmt = (
        select(Survey)
        .join(newest, (Survey.ticket_id == newest.c.ticket_id) & (Survey.rated_at == newest.c.at))
        .order_by(Survey.id)
    )
    return {s.ticket_id: s for s in session.scalars(stmt)}
