"""Every query of SLA policies and clocks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.orm import Session

from kefu.customers.models import Customer
from kefu.db import table_of
from kefu.sla.models import ClockStatus, SlaClock, SlaConfig, SlaPolicy
from kefu.tickets.models import Ticket

AnyRow = Row[*tuple[Any, ...]]
CONFIG_ROW = 1
FACT_COLUMNS = (
    Ticket.id,
    Ticket.status,
    Ticket.priority,
    Ticket.channel,
    Ticket.team_id,
    Ticket.requester_id,
    Ticket.first_responded_at,
    Customer.tier,
)


# -- policies and the config token -------------------------------------------------------
# Built once on the table: read in every write transaction that touches a ticket.
_config = table_of(SlaConfig)
_TOKEN = select(_config.c.token).where(_config.c.id == CONFIG_ROW)


def config_token(session: Session) -> str | None:
    return session.execute(_TOKEN).scalar_one_or_none()


def set_config_token(session: Session, token: str, now: datetime) -> None:
    changed = session.execute(
        update(SlaConfig).where(SlaConfig.id == CONFIG_ROW).values(token=token, updated_at=now),
        execution_options={"synchronize_session": False},
    )
    if not getattr(changed, "rowcount", 0):
        session.execute(insert(SlaConfig).values(id=CONFIG_ROW, token=token, updated_at=now))


def policies(session: Session) -> Sequence[SlaPolicy]:
    return session.scalars(select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.id)).all()


def get_policy(session: Session, policy_id: int) -> SlaPolicy | None:
    return session.get(SlaPolicy, policy_id)


def policy_by_name(session: Session, name: str) -> SlaPolicy | None:
    return session.scalar(select(SlaPolicy).where(SlaPolicy.name == name))


def add_policy(session: Session, values: dict[str, Any]) -> SlaPolicy:
    policy = SlaPolicy(**values)
    session.add(policy)
    session.flush()
    return policy


def delete_policy(session: Session, policy: SlaPolicy) -> None:
    session.delete(policy)
    session.flush()


def policy_names_using_calendar(session: Session, calendar_id: int) -> list[str]:
    stmt = select(SlaPolicy.name).where(SlaPolicy.calendar_id == calendar_id)
    return list(session.scalars(stmt.order_by(SlaPolicy.name)))


# -- clocks ------------------------------------------------------------------------------
def clocks_of(session: Session, ticket_id: int) -> Sequence[SlaClock]:
    stmt = select(SlaClock).where(SlaClock.ticket_id == ticket_id).order_by(SlaClock.id)
    return session.scalars(stmt).all()


def add_clock(session: Session, values: dict[str, Any]) -> SlaClock:
    clock = SlaClock(**values)
    session.add(clock)
    return clock


def open_clocks_of_tickets(session: Session, ticket_ids: Iterable[int]) -> Sequence[SlaClock]:
    """Clocks not yet stopped, and every breached one, of the tickets (for list badges)."""
    ids = list(ticket_ids)
    if not ids:
        return []
    stmt = select(SlaClock).where(
        SlaClock.ticket_id.in_(ids),
        SlaClock.status != ClockStatus.cancelled,
        SlaClock.stopped_at.is_(None),
    )
    return session.scalars(stmt.order_by(SlaClock.id)).all()


def due_clocks(session: Session, now: datetime, limit: int) -> Sequence[AnyRow]:
    """Clocks whose warning or breach is due, with what escalation needs of the ticket.
    Reads the partial index on next_check_at: the cost follows the due clocks only."""
    stmt = (
        select(
            SlaClock.id,
            SlaClock.ticket_id,
            SlaClock.policy_id,
            SlaClock.metric,
            SlaClock.target_s,
            SlaClock.warn_at,
            SlaClock.due_at,
            Ticket.assignee_id,
            Ticket.team_id,
            Ticket.priority,
        )
        .join(Ticket, Ticket.id == SlaClock.ticket_id)
        .where(SlaClock.next_check_at <= now)
        .order_by(SlaClock.next_check_at)
        .limit(limit)
        .with_for_update(of=SlaClock)
    )
    return session.execute(stmt).all()


def mark_fired(session: Session, ids: list[int], now: datetime, breached: bool) -> None:
    """Warnings move the next check to the due time; breaches leave nothing to check."""
    if not ids:
        return
    values: dict[str, Any]
    if breached:
        values = {"status": ClockStatus.breached, "breached_at": SlaClock.due_at}
        values["next_check_at"] = None
    else:
        values = {"status": ClockStatus.warning, "warned_at": SlaClock.warn_at}
        values["next_check_at"] = SlaClock.due_at
    session.execute(
        update(SlaClock).where(SlaClock.id.in_(ids)).values(**values, updated_at=now),
        execution_options={"synchronize_session": "fetch"},
    )


# -- tickets as the SLA sees them (for re-applying policies in batches) --------------------
def open_ticket_facts_after(session: Session, after_id: int, limit: int) -> Sequence[AnyRow]:
    """What policy matching needs of the next open tickets by id."""
    stmt = (
        select(*FACT_COLUMNS)
        .join(Customer, Customer.id == Ticket.requester_id)
        .where(Ticket.id > after_id, Ticket.status.not_in(("solved", "closed")))
        .order_by(Ticket.id)
        .limit(limit)
    )
    return session.execute(stmt).all()


def ticket_facts(session: Session, ticket_ids: Iterable[int]) -> Sequence[AnyRow]:
    ids = list(ticket_ids)
    if not ids:
        return []
    stmt = (
        select(*FACT_COLUMNS)
        .join(Customer, Customer.id == Ticket.requester_id)
        .where(Ticket.id.in_(ids))
    )
    return session.execute(stmt).all()


def tickets_with_open_clocks_after(session: Session, after_id: int, limit: int) -> list[int]:
    stmt = (
        select(SlaClock.ticket_id)
        .where(SlaClock.ticket_id > after_id, SlaClock.stopped_at.is_(None))
        .where(SlaClock.status != ClockStatus.cancelled)
        .group_by(SlaClock.ticket_id)
        .order_by(SlaClock.ticket_id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def clocks_of_tickets(session: Session, ticket_ids: Iterable[int]) -> dict[int, list[SlaClock]]:
    ids = list(ticket_ids)
    found: dict[int, list[SlaClock]] = {i: [] for i in ids}
    if ids:
        stmt = select(SlaClock).where(SlaClock.ticket_id.in_(ids)).order_by(SlaClock.id)
        for clock in session.scalars(stmt):
            found[clock.ticket_id].append(clock)
    return found


def status_counts(
    session: Session, start: datetime, end: datetime, policy_id: int | None
) -> list[tuple[str, str, int]]:
    """(metric, status, count) of the clocks started in [start, end)."""
    stmt = (
        select(SlaClock.metric, SlaClock.status, func.count())
        .where(SlaClock.started_at >= start, SlaClock.started_at < end)
        .where(SlaClock.status != ClockStatus.cancelled)
        .group_by(SlaClock.metric, SlaClock.status)
    )
    if policy_id is not None:
        stmt = stmt.where(SlaClock.policy_id == policy_id)
    return [(m, s, int(n)) for m, s, n in session.execute(stmt)]
