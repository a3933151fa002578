"""Every query of the rules domain."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from kefu.db import table_of
from kefu.rules.models import Macro, Rule, RuleEvent, RuleFiring, RulesConfig, RuleVersion

# Built once and run with parameters: the worker writes one of each per event or firing.
_INSERT_EVENT = insert(table_of(RuleEvent))
_INSERT_FIRING = insert(table_of(RuleFiring)).returning(table_of(RuleFiring).c.id)
_TOKEN = select(RulesConfig.token).where(RulesConfig.id == 1)


# -- the config token ------------------------------------------------------------------------
def config_token(session: Session) -> str | None:
    return session.execute(_TOKEN).scalar_one_or_none()


def set_config_token(session: Session, token: str, now: datetime) -> None:
    result = session.execute(
        update(RulesConfig).where(RulesConfig.id == 1).values(token=token, updated_at=now)
    )
    if not getattr(result, "rowcount", 0):
        session.execute(insert(RulesConfig).values(id=1, token=token, updated_at=now))


# -- rules -----------------------------------------------------------------------------------
def rules(session: Session) -> Sequence[Rule]:
    return session.scalars(select(Rule).order_by(Rule.position, Rule.id)).all()


def get_rule(session: Session, rule_id: int) -> Rule | None:
    return session.get(Rule, rule_id)


def rule_by_name(session: Session, name: str) -> Rule | None:
    return session.scalars(select(Rule).where(Rule.name == name)).first()


def add(session: Session, obj: Any) -> None:
    session.add(obj)
    session.flush()


def delete_obj(session: Session, obj: Any) -> None:
    session.delete(obj)
    session.flush()


def versions(session: Session, rule_id: int) -> Sequence[RuleVersion]:
    stmt = select(RuleVersion).where(RuleVersion.rule_id == rule_id)
    return session.scalars(stmt.order_by(RuleVersion.version.desc())).all()


def version(session: Session, rule_id: int, number: int) -> RuleVersion | None:
    stmt = select(RuleVersion).where(RuleVersion.rule_id == rule_id, RuleVersion.version == number)
    return session.scalars(stmt).first()


# -- the event queue -------------------------------------------------------------------------
def enqueue_event(session: Session, values: dict[str, Any]) -> None:
    session.execute(_INSERT_EVENT, values)


def due_events(session: Session, now: datetime, limit: int) -> Sequence[RuleEvent]:
    stmt = (
        select(RuleEvent)
        .where(RuleEvent.dead.is_(False), RuleEvent.next_attempt_at <= now)
        .order_by(RuleEvent.id)
        .limit(limit)
    )
    return session.scalars(stmt).all()


def delete_event(session: Session, event_id: int) -> None:
    session.execute(delete(RuleEvent).where(RuleEvent.id == event_id))


def get_event(session: Session, event_id: int) -> RuleEvent | None:
    return session.get(RuleEvent, event_id)


def queue_counts(session: Session) -> tuple[int, int]:
    """(waiting, dead) events."""
    rows = session.execute(select(RuleEvent.dead, func.count()).group_by(RuleEvent.dead)).all()
    counts = {bool(dead): int(n) for dead, n in rows}
    return counts.get(False, 0), counts.get(True, 0)


# -- firings ---------------------------------------------------------------------------------
def add_firing(session: Session, values: dict[str, Any]) -> int:
    return int(session.execute(_INSERT_FIRING, values).scalar_one())


def firings(
    session: Session, rule_id: int | None, ticket_id: int | None, before: int | None, limit: int
) -> Sequence[RuleFiring]:
    stmt = select(RuleFiring)
    if rule_id is not None:
        stmt = stmt.where(RuleFiring.rule_id == rule_id)
    if ticket_id is not None:
        stmt = stmt.where(RuleFiring.ticket_id == ticket_id)
    if before is not None:
        stmt = stmt.where(RuleFiring.id < before)
    return session.scalars(stmt.order_by(RuleFiring.id.desc()).limit(limit)).all()


def last_fired(session: Session, rule_id: int, ticket_ids: Iterable[int]) -> dict[int, datetime]:
    ids = list(ticket_ids)
    if not ids:
        return {}
    stmt = (
        select(RuleFiring.ticket_id, func.max(RuleFiring.fired_at))
        .where(RuleFiring.rule_id == rule_id, RuleFiring.ticket_id.in_(ids))
        .group_by(RuleFiring.ticket_id)
    )
    return {int(t): at for t, at in session.execute(stmt) if t is not None}


# -- macros ----------------------------------------------------------------------------------
def macros(session: Session, active_only: bool = False) -> Sequence[Macro]:
    stmt = select(Macro)
    if active_only:
        stmt = stmt.where(Macro.active.is_(True))
    return session.scalars(stmt.order_by(Macro.position, Macro.name)).all()


def get_macro(session: Session, macro_id: int) -> Macro | None:
    return session.get(Macro, macro_id)


def macro_by_name(session: Session, name: str) -> Macro | None:
    return session.scalars(select(Macro).where(Macro.name == name)).first()
