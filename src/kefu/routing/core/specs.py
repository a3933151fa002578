"""The router core's vocabulary: states, strategies, the specs of queues, agents and items
that callers hand to the router, its decisions, and the rules shared with the database side
(``fits``: room for one more item; ``eligible``: could this agent ever serve these items)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Strategy(StrEnum):
    longest_idle = "longest_idle"
    round_robin = "round_robin"
    least_busy = "least_busy"
    best_skill = "best_skill"
    ring_all = "ring_all"


class AgentState(StrEnum):
    offline = "offline"
    available = "available"
    busy = "busy"
    after_call_work = "after_call_work"
    on_break = "break"


class ItemStatus(StrEnum):
    waiting = "waiting"
    offered = "offered"
    assigned = "assigned"


READY = frozenset({AgentState.available.value, AgentState.busy.value})
MEDIA = ("voice", "chat", "email")


@dataclass(frozen=True)
class Overflow:
    """After ``after_s`` seconds in its queue, widen an item's requirement or move it."""

    after_s: float
    action: str = "widen"  # "widen" | "move"
    level_delta: int = 1  # widen: lower each minimum level; at 0 the skill is dropped
    drop_language: bool = False
    queue_id: int | None = None  # move: the queue to move to


@dataclass(frozen=True)
class Weights:
    """Priority score = wait * seconds waited + tier bonus + priority bonus + SLA step."""

    wait: float = 1.0
    tiers: Mapping[str, float] = field(default_factory=dict)
    priorities: Mapping[str, float] = field(default_factory=dict)
    sla_at_risk: float = 0.0
    sla_breached: float = 0.0
    sla_risk_s: float = 300.0

    def bonus(self, tier: str, priority: str, sla_due_at: float | None, now: float) -> float:
        value = self.tiers.get(tier, 0.0) + self.priorities.get(priority, 0.0)
        if sla_due_at is not None:
            if now >= sla_due_at:
                value += self.sla_breached
            elif now >= sla_due_at - self.sla_risk_s:
                value += self.sla_at_risk
        return value

    def sla_steps(self, sla_due_at: float | None) -> tuple[float, ...]:
        if sla_due_at is None or not (self.sla_at_risk or self.sla_breached):
            return ()
        return (sla_due_at - self.sla_risk_s, sla_due_at)


@dataclass
class QueueSpec:
    id: int
    strategy: Strategy = Strategy.longest_idle
    weights: Weights = field(default_factory=Weights)
    overflow: tuple[Overflow, ...] = ()
    skills: Mapping[str, int] = field(default_factory=dict)
    team_id: int | None = None
    auto_accept: bool = False


@dataclass
class AgentSpec:
    id: int
    state: str = AgentState.available.value
    capacity: Mapping[str, int] = field(
        default_factory=lambda: {"voice": 1, "chat": 3, "email": 10}
    )
    blocks: Mapping[str, Iterable[str]] = field(default_factory=dict)
    skills: Mapping[str, int] = field(default_factory=dict)
    languages: frozenset[str] = frozenset()
    teams: frozenset[int] = frozenset()
    idle_since: float = 0.0
    cooldown_until: float = 0.0


@dataclass
class ItemSpec:
    id: int
    queue_id: int
    media: str = "email"
    skills: Mapping[str, int] = field(default_factory=dict)
    language: str | None = None
    team_id: int | None = None
    priority: str = "normal"
    tier: str = "standard"
    enqueued_at: float = 0.0
    queue_entered_at: float | None = None
    overflow_step: int = 0
    sla_due_at: float | None = None
    sticky_agent_id: int | None = None
    sticky_until: float = 0.0
    front: bool = False


@dataclass(frozen=True)
class Decision:
    """Offer ``item_id`` to ``agent_ids`` (several only for ring-all); assigned if auto."""

    item_id: int
    agent_ids: tuple[int, ...]
    queue_id: int
    auto_accept: bool


GroupKey = tuple[int, str, tuple[tuple[str, int], ...], str | None, int | None, int | None]


def fits(
    capacity: Mapping[str, int],
    blocks: Mapping[str, Iterable[str]],
    load: Mapping[str, int],
    media: str,
) -> bool:
    """Room for one more item of ``media``: under capacity, and no held work excludes it
    (``blocks = {"voice": ["chat"]}``: no chat is offered while a call is held or ringing)."""
    if load.get(media, 0) >= capacity.get(media, 0):
        return False
    return not any(media in blocks.get(m, ()) for m, n in load.items() if n > 0)


def eligible(agent: AgentSpec, key: GroupKey) -> bool:
    """Could this agent ever serve items with these requirements (skills, language, team)?"""
    _queue, _media, skills, language, team_id, reserved_for = key
    if reserved_for is not None and reserved_for != agent.id:
        return False
    if team_id is not None and team_id not in agent.teams:
        return False
    if language is not None and language not in agent.languages:
        return False
    return all(agent.skills.get(name, 0) >= level for name, level in skills)


def widen(skills: Mapping[str, int], level_delta: int) -> dict[str, int]:
    lowered = {name: level - level_delta for name, level in skills.items()}
    return {name: level for name, level in lowered.items() if level > 0}
