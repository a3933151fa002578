"""Every query of routing, and only here.

Writes that race with other processes are compare-and-set updates (``... WHERE status =
'waiting'``) and report whether they won; seat rows are locked (``FOR UPDATE`` on
PostgreSQL; SQLite's writer holds the whole database) before an agent's load is counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import and_, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from kefu.routing.models import (
    AgentSeat,
    AgentStateChange,
    BreakReason,
    Offer,
    RoutingQueue,
    WorkItem,
)

ACTIVE = ("waiting", "offered", "assigned")
QUEUED = ("waiting", "offered")


# -- seats ----------------------------------------------------------------------------------
# The statements every offer and accept runs are built once: building them per call was
# about a tenth of the routing loop's CPU (see docs/benchmarks.md, bench.routing).
_SEAT = select(AgentSeat).where(AgentSeat.user_id == bindparam("user_id"))
_SEAT_LOCKED = _SEAT.with_for_update()


def get_seat(session: Session, user_id: int, *, lock: bool = False) -> AgentSeat | None:
    query = _SEAT_LOCKED if lock else _SEAT
    return session.scalars(query, {"user_id": user_id}).first()


def lock_seats(session: Session, user_ids: Iterable[int]) -> dict[int, AgentSeat]:
    """Lock several seats in id order, so two transactions never wait on each other."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    return {s.user_id: s for s in session.scalars(_SEATS_LOCKED, {"ids": ids})}


_SEATS = select(AgentSeat).order_by(AgentSeat.user_id)
_SEATS_OF = _SEATS.where(AgentSeat.user_id.in_(bindparam("ids", expanding=True)))
_SEATS_LOCKED = _SEATS_OF.with_for_update()


def add_seat(session: Session, seat: AgentSeat) -> None:
    session.add(seat)
    session.flush()


def list_seats(session: Session, user_ids: Sequence[int] | None = None) -> list[AgentSeat]:
    if user_ids is None:
        return list(session.scalars(_SEATS))
    return list(session.scalars(_SEATS_OF, {"ids": list(user_ids)}))


def seats_gone_quiet(session: Session, before: datetime) -> list[int]:
    query = select(AgentSeat.user_id).where(
        AgentSeat.heartbeat_at < before, AgentSeat.state != "offline"
    )
    return list(session.scalars(query))


def seats_done_wrapping_up(session: Session, now: datetime) -> list[int]:
    query = select(AgentSeat.user_id).where(
        AgentSeat.state == "after_call_work", AgentSeat.state_until <= now
    )
    return list(session.scalars(query))


_HELD = (
    select(WorkItem.agent_id, WorkItem.media, func.count())
    .where(WorkItem.agent_id.in_(bindparam("ids", expanding=True)), WorkItem.status == "assigned")
    .group_by(WorkItem.agent_id, WorkItem.media)
)
_OFFERED = (
    select(Offer.agent_id, WorkItem.media, func.count())
    .join(WorkItem, WorkItem.id == Offer.item_id)
    .where(Offer.agent_id.in_(bindparam("ids", expanding=True)), Offer.status == "pending")
    .group_by(Offer.agent_id, WorkItem.media)
)


def load_of(session: Session, user_ids: Sequence[int]) -> dict[int, Counter[str]]:
    """Work each agent holds or is being offered, per media."""
    loads: dict[int, Counter[str]] = {uid: Counter() for uid in user_ids}
    for query in (_HELD, _OFFERED):
        for agent_id, media, count in session.execute(query, {"ids": list(user_ids)}):
            loads[cast(int, agent_id)][media] += count
    return loads


_ASSIGNED_COUNT = select(func.count()).where(
    WorkItem.agent_id == bindparam("user_id"), WorkItem.status == "assigned"
)


def assigned_count(session: Session, user_id: int) -> int:
    return int(session.scalar(_ASSIGNED_COUNT, {"user_id": user_id}) or 0)


# -- state history --------------------------------------------------------------------------
def close_span(session: Session, user_id: int, now: datetime) -> None:
    session.execute(
        update(AgentStateChange)
        .where(AgentStateChange.user_id == user_id, AgentStateChange.ended_at.is_(None))
        .values(ended_at=now)
    )


def open_span(session: Session, values: dict[str, Any]) -> None:
    session.execute(insert(AgentStateChange).values(**values))


def spans(
    session: Session, user_id: int, since: datetime, until: datetime
) -> list[AgentStateChange]:
    query = (
        select(AgentStateChange)
        .where(
            AgentStateChange.user_id == user_id,
            AgentStateChange.started_at <= until,
            or_(AgentStateChange.ended_at.is_(None), AgentStateChange.ended_at > since),
        )
        .order_by(AgentStateChange.started_at, AgentStateChange.id)
    )
    return list(session.scalars(query))


# -- break reasons --------------------------------------------------------------------------
def list_reasons(session: Session) -> list[BreakReason]:
    return list(session.scalars(select(BreakReason).order_by(BreakReason.code)))


def get_reason(session: Session, code: str) -> BreakReason | None:
    return session.get(BreakReason, code)


def add_reason(session: Session, reason: BreakReason) -> None:
    session.add(reason)
    session.flush()


# -- queues ---------------------------------------------------------------------------------
def list_queues(session: Session) -> list[RoutingQueue]:
    query = select(RoutingQueue).order_by(RoutingQueue.position, RoutingQueue.id)
    return list(session.scalars(query))


def get_queue(session: Session, queue_id: int) -> RoutingQueue | None:
    return session.get(RoutingQueue, queue_id)


def queue_named(session: Session, name: str) -> RoutingQueue | None:
    return session.scalars(select(RoutingQueue).where(RoutingQueue.name == name)).first()


def add_queue(session: Session, queue: RoutingQueue) -> None:
    session.add(queue)
    session.flush()


def delete_queue(session: Session, queue: RoutingQueue) -> None:
    session.execute(delete(WorkItem).where(WorkItem.queue_id == queue.id))
    session.delete(queue)
    session.flush()


def queues_for_team(session: Session, team_id: int) -> list[RoutingQueue]:
    query = (
        select(RoutingQueue)
        .where(RoutingQueue.team_id == team_id)
        .order_by(RoutingQueue.position, RoutingQueue.id)
    )
    return list(session.scalars(query))


def active_in_queue(session: Session, queue_id: int) -> int:
    query = select(func.count()).where(WorkItem.queue_id == queue_id, WorkItem.status.in_(ACTIVE))
    return int(session.scalar(query) or 0)


def queues_moving_to(session: Session, queue_id: int) -> list[str]:
    return [
        q.name
        for q in list_queues(session)
        if any(step.get("queue_id") == queue_id for step in q.overflow or [])
    ]


# -- work items -----------------------------------------------------------------------------
def add_item(session: Session, item: WorkItem) -> None:
    session.add(item)
    session.flush()


def get_item(session: Session, item_id: int) -> WorkItem | None:
    return session.get(WorkItem, item_id)


_ITEM_LOCKED = (
    select(WorkItem)
    .where(WorkItem.id == bindparam("item_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)
_ITEMS = select(WorkItem).where(WorkItem.id.in_(bindparam("ids", expanding=True)))


def lock_item(session: Session, item_id: int) -> WorkItem | None:
    """Lock order everywhere: seats, then the item, then its offers (no deadlocks)."""
    return session.scalars(_ITEM_LOCKED, {"item_id": item_id}).first()


def items_by_ids(session: Session, ids: Iterable[int]) -> list[WorkItem]:
    wanted = list(set(ids))
    if not wanted:
        return []
    return list(session.scalars(_ITEMS, {"ids": wanted}))


def active_items(session: Session) -> list[WorkItem]:
    query = select(WorkItem).where(WorkItem.status.in_(ACTIVE)).order_by(WorkItem.id)
    return list(session.scalars(query))


def active_items_of_agents(session: Session, user_ids: Iterable[int]) -> list[int]:
    ids = list(user_ids)
    held = select(WorkItem.id).where(WorkItem.agent_id.in_(ids), WorkItem.status == "assigned")
    offered = select(Offer.item_id).where(Offer.agent_id.in_(ids), Offer.status == "pending")
    return list(session.scalars(held)) + list(session.scalars(offered))


def active_item_of_ticket(session: Session, ticket_id: int) -> WorkItem | None:
    query = select(WorkItem).where(WorkItem.ticket_id == ticket_id, WorkItem.status.in_(ACTIVE))
    return session.scalars(query).first()


_ITEM_BY_REF = (
    select(WorkItem)
    .where(WorkItem.external_ref == bindparam("ref"), WorkItem.status.in_(ACTIVE))
    .order_by(WorkItem.id.desc())
)


def item_by_ref(session: Session, external_ref: str) -> WorkItem | None:
    return session.scalars(_ITEM_BY_REF, {"ref": external_ref}).first()


def claim_item(
    session: Session, item_id: int, expected: Sequence[str], values: dict[str, Any]
) -> bool:
    """Compare-and-set: change the item only if its status is still one of ``expected``."""
    return _claim(session, item_id, expected, values) is not None


def claim_loaded_item(
    session: Session, item: WorkItem, expected: Sequence[str], values: dict[str, Any]
) -> bool:
    """``claim_item`` on a loaded item, which then holds what was written (and the new
    version the database returned) without being read again."""
    version = _claim(session, item.id, expected, values)
    if version is None:
        return False
    for key, value in {**values, "version": version}.items():
        set_committed_value(item, key, value)
    return True


def _claim(
    session: Session, item_id: int, expected: Sequence[str], values: dict[str, Any]
) -> int | None:
    result = session.execute(
        update(WorkItem)
        .where(WorkItem.id == item_id, WorkItem.status.in_(expected))
        .values(version=WorkItem.version + 1, **values)
        .returning(WorkItem.version)
        .execution_options(synchronize_session=False)
    )
    version = result.scalar()
    return None if version is None else int(version)


def last_agent_of_customer(session: Session, customer_id: int, since: datetime) -> int | None:
    query = (
        select(WorkItem.agent_id)
        .where(
            WorkItem.customer_id == customer_id,
            WorkItem.assigned_at >= since,
            WorkItem.agent_id.is_not(None),
        )
        .order_by(WorkItem.assigned_at.desc())
        .limit(1)
    )
    return session.scalar(query)


def held_items(session: Session, agent_id: int, limit: int) -> list[WorkItem]:
    query = (
        select(WorkItem)
        .where(WorkItem.agent_id == agent_id, WorkItem.status == "assigned")
        .order_by(WorkItem.assigned_at, WorkItem.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def waiting_items(session: Session, queue_id: int, limit: int) -> list[WorkItem]:
    query = (
        select(WorkItem)
        .where(WorkItem.queue_id == queue_id, WorkItem.status.in_(QUEUED))
        .order_by(WorkItem.enqueued_at, WorkItem.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def queue_backlog(session: Session) -> dict[int, tuple[int, int, datetime | None]]:
    """Per queue: (waiting, offered, oldest enqueued_at)."""
    query = (
        select(
            WorkItem.queue_id,
            func.sum(case((WorkItem.status == "waiting", 1), else_=0)),
            func.sum(case((WorkItem.status == "offered", 1), else_=0)),
            func.min(WorkItem.enqueued_at),
        )
        .where(WorkItem.status.in_(QUEUED))
        .group_by(WorkItem.queue_id)
    )
    return {
        q: (int(w or 0), int(o or 0), WorkItem.enqueued_at.type.process_result_value(oldest, None))
        for q, w, o, oldest in session.execute(query)
    }


def queue_outcomes(
    session: Session, since: datetime, thresholds: dict[int, int]
) -> dict[int, tuple[int, int, float, int]]:
    """Per queue, since ``since``: (answered, answered in time, total wait, abandoned)."""
    out: dict[int, tuple[int, int, float, int]] = {}
    answered = select(WorkItem.queue_id, WorkItem.wait_s).where(
        WorkItem.assigned_at >= since, WorkItem.wait_s.is_not(None)
    )
    totals: dict[int, list[float]] = {}
    for queue_id, wait_s in session.execute(answered):
        totals.setdefault(queue_id, []).append(float(cast(float, wait_s)))
    abandoned = (
        select(WorkItem.queue_id, func.count())
        .where(WorkItem.status == "abandoned", WorkItem.ended_at >= since)
        .group_by(WorkItem.queue_id)
    )
    lost = {q: int(n) for q, n in session.execute(abandoned)}
    for queue_id in set(totals) | set(lost):
        waits = totals.get(queue_id, [])
        limit = thresholds.get(queue_id, 20)
        in_time = sum(1 for w in waits if w <= limit)
        out[queue_id] = (len(waits), in_time, sum(waits), lost.get(queue_id, 0))
    return out


# -- offers ---------------------------------------------------------------------------------
def add_offer(session: Session, offer: Offer) -> None:
    session.add(offer)
    session.flush()


def get_offer(session: Session, offer_id: int, *, fresh: bool = False) -> Offer | None:
    """``fresh``: read the row even if the session holds it (after a lock was taken)."""
    if fresh:
        return session.scalars(_OFFER_FRESH, {"offer_id": offer_id}).first()
    return session.get(Offer, offer_id)


_OFFER_FRESH = (
    select(Offer).where(Offer.id == bindparam("offer_id")).execution_options(populate_existing=True)
)


def pending_offers_of_agent(session: Session, user_id: int) -> list[Offer]:
    query = (
        select(Offer).where(Offer.agent_id == user_id, Offer.status == "pending").order_by(Offer.id)
    )
    return list(session.scalars(query))


_PENDING_OF_ITEM = select(Offer).where(
    Offer.item_id == bindparam("item_id"), Offer.status == "pending"
)
_PENDING_OF_ITEMS = select(Offer.item_id, Offer.agent_id).where(
    Offer.item_id.in_(bindparam("ids", expanding=True)), Offer.status == "pending"
)


def pending_offers_of_item(session: Session, item_id: int) -> list[Offer]:
    return list(session.scalars(_PENDING_OF_ITEM, {"item_id": item_id}))


def pending_offers(session: Session, item_ids: Sequence[int]) -> list[tuple[int, int]]:
    """(item_id, agent_id) of every pending offer of these items."""
    if not item_ids:
        return []
    rows = session.execute(_PENDING_OF_ITEMS, {"ids": list(item_ids)})
    return [(int(i), int(a)) for i, a in rows]


def all_pending_offers(session: Session) -> list[tuple[int, int]]:
    query = select(Offer.item_id, Offer.agent_id).where(Offer.status == "pending")
    return [(int(i), int(a)) for i, a in session.execute(query)]


def due_offers(session: Session, now: datetime, limit: int) -> list[Offer]:
    query = (
        select(Offer)
        .where(Offer.status == "pending", Offer.expires_at <= now)
        .order_by(Offer.expires_at, Offer.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def decide_offer(
    session: Session, offer_id: int, status: str, reason: str | None, now: datetime
) -> bool:
    """Compare-and-set a pending offer to its outcome."""
    result = session.execute(
        update(Offer)
        .where(Offer.id == offer_id, Offer.status == "pending")
        .values(status=status, reason=reason, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def offers_of_item(session: Session, item_id: int) -> list[Offer]:
    return list(session.scalars(select(Offer).where(Offer.item_id == item_id).order_by(Offer.id)))


def pending_counts(session: Session) -> dict[int, int]:
    query = (
        select(Offer.agent_id, func.count())
        .where(Offer.status == "pending")
        .group_by(Offer.agent_id)
    )
    return {int(a): int(n) for a, n in session.execute(query)}


def seats_with_load(session: Session) -> dict[int, Counter[str]]:
    """Load of every agent that holds or is offered anything."""
    loads: dict[int, Counter[str]] = {}
    held = (
        select(WorkItem.agent_id, WorkItem.media, func.count())
        .where(WorkItem.status == "assigned", WorkItem.agent_id.is_not(None))
        .group_by(WorkItem.agent_id, WorkItem.media)
    )
    offered = (
        select(Offer.agent_id, WorkItem.media, func.count())
        .join(WorkItem, and_(WorkItem.id == Offer.item_id))
        .where(Offer.status == "pending")
        .group_by(Offer.agent_id, WorkItem.media)
    )
    for query in (held, offered):
        for agent_id, media, count in session.execute(query):
            loads.setdefault(cast(int, agent_id), Counter())[media] += int(count)
    return loads
