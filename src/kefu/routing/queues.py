"""Queues: their strategy, requirements, timers and scoring; statistics and the wallboard."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from kefu.accounts import service as accounts
from kefu.accounts.schemas import UserRead
from kefu.db import Ctx
from kefu.kit.errors import Conflict, NotFound, invalid
from kefu.routing import repository as repo
from kefu.routing.convert import agent_spec
from kefu.routing.core import AgentSpec, Strategy, eligible
from kefu.routing.models import AgentSeat, RoutingQueue
from kefu.routing.schemas import (
    AgentTile,
    OverflowIn,
    QueueCreate,
    QueueRead,
    QueueStats,
    QueueUpdate,
    Wallboard,
    json_weights,
)

DEFAULTS: dict[str, Any] = {
    "description": "",
    "strategy": Strategy.longest_idle.value,
    "team_id": None,
    "channels": [],
    "skills": {},
    "match_language": True,
    "offer_timeout_s": 30,
    "wrap_up_s": 0,
    "auto_accept": False,
    "sl_threshold_s": 20,
    "sl_target": 0.8,
    "overflow": [],
    "sticky_window_s": 0,
    "sticky_wait_s": 0,
    "position": 0,
}


def get_queue_row(ctx: Ctx, queue_id: int) -> RoutingQueue:
    queue = repo.get_queue(ctx.session, queue_id)
    if queue is None:
        raise NotFound("Queue", queue_id)
    return queue


def queue_read(queue: RoutingQueue, warnings: list[str]) -> QueueRead:
    return QueueRead(
        id=queue.id,
        name=queue.name,
        description=queue.description,
        strategy=Strategy(queue.strategy),
        team_id=queue.team_id,
        channels=list(queue.channels),
        skills=dict(queue.skills),
        match_language=queue.match_language,
        offer_timeout_s=queue.offer_timeout_s,
        wrap_up_s=queue.wrap_up_s,
        auto_accept=queue.auto_accept,
        sl_threshold_s=queue.sl_threshold_s,
        sl_target=queue.sl_target,
        weights=json_weights(queue.weights),
        overflow=[OverflowIn.model_validate(step) for step in queue.overflow],
        sticky_window_s=queue.sticky_window_s,
        sticky_wait_s=queue.sticky_wait_s,
        position=queue.position,
        version=queue.version,
        servable=not warnings,
        warnings=warnings,
        created_at=queue.created_at,
        updated_at=queue.updated_at,
    )


def servable_warnings(queue: RoutingQueue, agents: list[AgentSpec]) -> list[str]:
    """Why no agent could ever serve this queue (empty when someone could)."""
    key = (queue.id, "any", tuple(sorted(queue.skills.items())), None, queue.team_id, None)
    if any(eligible(agent, key) for agent in agents):
        return []
    wanted = ", ".join(f"{k} ≥ {v}" for k, v in sorted(queue.skills.items())) or "no skills"
    team = f" in team {queue.team_id}" if queue.team_id else ""
    return [f"No agent has the skills this queue needs ({wanted}){team}"]


def roster(ctx: Ctx) -> tuple[list[AgentSeat], dict[int, UserRead]]:
    users = {u.id: u for u in accounts.list_users(ctx) if u.is_active}
    seats = [s for s in repo.list_seats(ctx.session) if s.user_id in users]
    return seats, users


def _specs(ctx: Ctx) -> list[AgentSpec]:
    seats, users = roster(ctx)
    return [agent_spec(s, users[s.user_id]) for s in seats]


# -- CRUD -----------------------------------------------------------------------------------
def list_queues(ctx: Ctx) -> list[QueueRead]:
    agents = _specs(ctx)
    return [queue_read(q, servable_warnings(q, agents)) for q in repo.list_queues(ctx.session)]


def get_queue(ctx: Ctx, queue_id: int) -> QueueRead:
    queue = get_queue_row(ctx, queue_id)
    return queue_read(queue, servable_warnings(queue, _specs(ctx)))


def create_queue(ctx: Ctx, data: QueueCreate) -> QueueRead:
    given = data.model_dump(exclude_unset=True, mode="json")
    values = {**DEFAULTS, **{k: v for k, v in given.items() if v is not None}}
    values.setdefault("weights", json_weights(None).model_dump())
    _check(ctx, values, None)
    now = ctx.now()
    queue = RoutingQueue(**values, version=1, created_at=now, updated_at=now)
    repo.add_queue(ctx.session, queue)
    ctx.emit("routing.queue.created", queue_id=queue.id)
    return get_queue(ctx, queue.id)


def update_queue(ctx: Ctx, queue_id: int, data: QueueUpdate) -> QueueRead:
    queue = get_queue_row(ctx, queue_id)
    given = data.model_dump(exclude_unset=True, mode="json")
    nullable = {"team_id"}
    values = {k: v for k, v in given.items() if v is not None or k in nullable}
    _check(ctx, {**_current(queue), **values}, queue.id)
    for name, value in values.items():
        setattr(queue, name, value)
    queue.version += 1
    queue.updated_at = ctx.now()
    ctx.emit("routing.queue.updated", queue_id=queue.id)
    return get_queue(ctx, queue.id)


def _current(queue: RoutingQueue) -> dict[str, Any]:
    return {name: getattr(queue, name) for name in (*DEFAULTS, "name", "weights")}


def _check(ctx: Ctx, values: dict[str, Any], queue_id: int | None) -> None:
    other = repo.queue_named(ctx.session, values["name"])
    if other is not None and other.id != queue_id:
        raise Conflict(f"A queue named {values['name']} exists already")
    if values.get("team_id") is not None:
        accounts.describe_assignment(ctx, None, values["team_id"])
    for index, step in enumerate(values.get("overflow") or []):
        target = step.get("queue_id")
        if step.get("action") != "move":
            continue
        if target == queue_id or repo.get_queue(ctx.session, target) is None:
            raise invalid(["body", "overflow", index, "queue_id"], f"no other queue {target}")


def delete_queue(ctx: Ctx, queue_id: int) -> None:
    queue = get_queue_row(ctx, queue_id)
    if repo.active_in_queue(ctx.session, queue_id):
        raise Conflict(f"Queue {queue.name} still holds work; move or finish it first")
    moving = repo.queues_moving_to(ctx.session, queue_id)
    if moving:
        raise Conflict(f"Queues {', '.join(moving)} overflow into {queue.name}")
    repo.delete_queue(ctx.session, queue)
    ctx.emit("routing.queue.deleted", queue_id=queue_id)


# -- statistics -----------------------------------------------------------------------------
def queue_stats(ctx: Ctx, queue_id: int, window_s: int = 86400) -> QueueStats:
    get_queue_row(ctx, queue_id)
    return all_stats(ctx, window_s, only=queue_id)[0]


def all_stats(ctx: Ctx, window_s: int = 86400, only: int | None = None) -> list[QueueStats]:
    queues = [q for q in repo.list_queues(ctx.session) if only is None or q.id == only]
    seats, users = roster(ctx)
    specs = [agent_spec(s, users[s.user_id]) for s in seats]
    backlog = repo.queue_backlog(ctx.session)
    since = ctx.now() - timedelta(seconds=window_s)
    thresholds = {q.id: q.sl_threshold_s for q in queues}
    outcomes = repo.queue_outcomes(ctx.session, since, thresholds)
    return [_stats(ctx, q, specs, backlog, outcomes, window_s) for q in queues]


def _stats(
    ctx: Ctx,
    queue: RoutingQueue,
    specs: list[AgentSpec],
    backlog: dict[int, Any],
    outcomes: dict[int, tuple[int, int, float, int]],
    window_s: int,
) -> QueueStats:
    waiting, offered, oldest = backlog.get(queue.id, (0, 0, None))
    answered, in_time, total_wait, abandoned = outcomes.get(queue.id, (0, 0, 0.0, 0))
    ended = answered + abandoned
    key = (queue.id, "any", tuple(sorted(queue.skills.items())), None, queue.team_id, None)
    states = Counter(a.state for a in specs if eligible(a, key))
    warnings = servable_warnings(queue, specs)
    return QueueStats(
        queue_id=queue.id,
        name=queue.name,
        waiting=waiting,
        offered=offered,
        longest_wait_s=max(0.0, (ctx.now() - oldest).total_seconds()) if oldest else 0.0,
        oldest_enqueued_at=oldest,
        answered=answered,
        abandoned=abandoned,
        service_level=in_time / ended if ended else None,
        sl_target=queue.sl_target,
        sl_threshold_s=queue.sl_threshold_s,
        abandon_rate=abandoned / ended if ended else None,
        asa_s=total_wait / answered if answered else None,
        window_s=window_s,
        agents=dict(states),
        servable=not warnings,
        warnings=warnings,
    )


def wallboard(ctx: Ctx, window_s: int = 86400) -> Wallboard:
    seats, users = roster(ctx)
    loads = repo.seats_with_load(ctx.session)
    tiles = [
        AgentTile(
            user_id=s.user_id,
            name=users[s.user_id].name,
            state=s.state,
            reason=s.reason,
            state_since=s.state_since,
            load=dict(loads.get(s.user_id, Counter())),
            capacity=dict(s.capacity),
        )
        for s in seats
    ]
    return Wallboard(at=ctx.now(), queues=all_stats(ctx, window_s), agents=tiles)
