"""Rows into the router core's specs: one place, for the dispatcher, the statistics and
the events that carry a new item to the dispatcher."""

from __future__ import annotations

from datetime import datetime

from kefu.accounts.schemas import UserRead
from kefu.routing.core import (
    AgentSpec,
    ItemSpec,
    Overflow,
    QueueSpec,
    Strategy,
    Weights,
)
from kefu.routing.models import AgentSeat, RoutingQueue, WorkItem
from kefu.routing.schemas import json_weights


def agent_spec(seat: AgentSeat, user: UserRead) -> AgentSpec:
    return AgentSpec(
        id=seat.user_id,
        state=seat.state,
        capacity=dict(seat.capacity),
        blocks={k: frozenset(v) for k, v in seat.blocks.items()},
        skills=dict(seat.skills),
        languages=frozenset(seat.languages),
        teams=frozenset(user.team_ids),
        idle_since=seat.idle_since.timestamp(),
        cooldown_until=seat.cooldown_until.timestamp() if seat.cooldown_until else 0.0,
    )


def queue_spec(queue: RoutingQueue) -> QueueSpec:
    weights = json_weights(queue.weights)
    return QueueSpec(
        id=queue.id,
        strategy=Strategy(queue.strategy),
        weights=Weights(
            wait=weights.wait,
            tiers=dict(weights.tiers),
            priorities=dict(weights.priorities),
            sla_at_risk=weights.sla_at_risk,
            sla_breached=weights.sla_breached,
            sla_risk_s=weights.sla_risk_s,
        ),
        overflow=tuple(
            Overflow(
                after_s=float(step["after_s"]),
                action=step["action"],
                level_delta=int(step.get("level_delta", 1)),
                drop_language=bool(step.get("drop_language", False)),
                queue_id=step.get("queue_id"),
            )
            for step in queue.overflow or []
        ),
        skills=dict(queue.skills),
        team_id=queue.team_id,
        auto_accept=queue.auto_accept,
    )


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def item_spec(item: WorkItem) -> ItemSpec:
    return ItemSpec(
        id=item.id,
        queue_id=item.queue_id,
        media=item.media,
        skills=dict(item.skills),
        language=item.language,
        team_id=item.team_id,
        priority=item.priority,
        tier=item.tier,
        enqueued_at=item.enqueued_at.timestamp(),
        queue_entered_at=item.queue_entered_at.timestamp(),
        overflow_step=item.overflow_step,
        sla_due_at=_ts(item.sla_due_at),
        sticky_agent_id=item.sticky_agent_id,
        sticky_until=_ts(item.sticky_until) or 0.0,
        front=item.front,
    )
