"""``kefu simulate scenario.yaml``: a discrete-event simulation of a contact centre that
drives the real router core (``routing.core.Router``) on a virtual clock.

Arrivals are Poisson per queue; handle times, patience (abandonment) and the time an agent
takes to answer an offer come from distributions; a roster of agents has skills,
languages, capacity per media and wrap-up. The same seed gives the same report. The
figures: service level (answered within the queue's threshold over answered + abandoned),
ASA (average wait of the answered), abandon rate, and occupancy (the share of staffed time
agents held work or wrapped up).
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kefu.routing.core import (
    AgentSpec,
    AgentState,
    ItemSpec,
    Overflow,
    QueueSpec,
    Router,
    Strategy,
    Weights,
)
from kefu.routing.schemas import Media, WeightsIn, check_skills, routing_language


class Distribution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    distribution: Literal["exponential", "lognormal", "fixed", "uniform"] = "exponential"
    mean_s: float = Field(gt=0, le=86400)
    sd_s: float | None = Field(default=None, gt=0, le=86400)

    @model_validator(mode="after")
    def _spread(self) -> Distribution:
        if self.distribution in ("lognormal", "uniform") and self.sd_s is None:
            raise ValueError(f"a {self.distribution} distribution needs sd_s")
        return self

    def sample(self, rnd: random.Random) -> float:
        if self.distribution == "fixed":
            return self.mean_s
        if self.distribution == "exponential":
            return rnd.expovariate(1 / self.mean_s)
        assert self.sd_s is not None
        if self.distribution == "uniform":
            half = self.sd_s * math.sqrt(3)
            return max(0.0, rnd.uniform(self.mean_s - half, self.mean_s + half))
        sigma2 = math.log(1 + (self.sd_s / self.mean_s) ** 2)
        return rnd.lognormvariate(math.log(self.mean_s) - sigma2 / 2, math.sqrt(sigma2))


class SimOverflow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after_s: float = Field(ge=0)
    action: Literal["widen", "move"]
    level_delta: int = Field(default=1, ge=0, le=10)
    drop_language: bool = False
    queue: str | None = None


class SimQueue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    strategy: Strategy = Strategy.longest_idle
    media: Media = "chat"
    arrivals_per_hour: float = Field(ge=0, le=1_000_000)
    skills: dict[str, int] = Field(default_factory=dict)
    languages: dict[str, float] = Field(default_factory=dict, description="share of arrivals")
    vip_share: float = Field(default=0.0, ge=0, le=1)
    handle_time: Distribution
    patience: Distribution | None = None
    answer_s: float = Field(default=0.0, ge=0, le=600)
    wrap_up_s: float = Field(default=0.0, ge=0, le=3600)
    sl_threshold_s: float = Field(default=20.0, gt=0)
    weights: WeightsIn = Field(default_factory=WeightsIn)
    overflow: list[SimOverflow] = Field(default_factory=list)

    _skills = field_validator("skills")(check_skills)

    @field_validator("languages")
    @classmethod
    def _languages(cls, v: dict[str, float]) -> dict[str, float]:
        if any(share < 0 for share in v.values()):
            raise ValueError("language shares are not negative")
        return {routing_language(k): share for k, share in v.items()}


def _default_capacity() -> dict[Media, int]:
    return {"voice": 1, "chat": 3, "email": 10}


class SimAgents(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, le=100_000)
    skills: dict[str, int] = Field(default_factory=dict)
    languages: list[str] = Field(default_factory=lambda: ["en"])
    capacity: dict[Media, int] = Field(default_factory=lambda: _default_capacity())
    blocks: dict[Media, list[Media]] = Field(default_factory=dict)

    _skills = field_validator("skills")(check_skills)

    @field_validator("languages")
    @classmethod
    def _languages(cls, v: list[str]) -> list[str]:
        return [routing_language(x) for x in v]


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = 1
    hours: float = Field(default=8.0, gt=0, le=24 * 366)
    warmup_minutes: float = Field(default=0.0, ge=0)
    queues: list[SimQueue] = Field(min_length=1)
    agents: list[SimAgents] = Field(min_length=1)

    @model_validator(mode="after")
    def _names(self) -> Scenario:
        names = [q.name for q in self.queues]
        if len(set(names)) != len(names):
            raise ValueError("queue names must be unique")
        for queue in self.queues:
            for step in queue.overflow:
                if step.action == "move" and step.queue not in names:
                    raise ValueError(f"queue {queue.name} overflows into unknown {step.queue}")
        return self


@dataclass
class Tally:
    arrivals: int = 0
    answered: int = 0
    in_time: int = 0
    abandoned: int = 0
    wait_s: float = 0.0

    def add(self, other: Tally) -> None:
        for name in ("arrivals", "answered", "in_time", "abandoned", "wait_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def figures(self) -> dict[str, float | int | None]:
        ended = self.answered + self.abandoned
        return {
            "arrivals": self.arrivals,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "service_level": round(self.in_time / ended, 4) if ended else None,
            "asa_s": round(self.wait_s / self.answered, 2) if self.answered else None,
            "abandon_rate": round(self.abandoned / ended, 4) if ended else None,
        }


@dataclass
class _Item:
    queue: int
    arrived: float
    counted: bool
    answered: bool = False


@dataclass
class _Agent:
    holding: int = 0
    wrapping: bool = False
    since: float = 0.0
    busy_s: float = 0.0


@dataclass
class Simulation:
    scenario: Scenario
    rnd: random.Random = field(init=False)
    router: Router = field(default_factory=Router)
    now: float = 0.0
    _events: list[tuple[float, int, str, tuple[Any, ...]]] = field(default_factory=list)
    _seq: Any = field(default_factory=itertools.count)
    items: dict[int, _Item] = field(default_factory=dict)
    agents: dict[int, _Agent] = field(default_factory=dict)
    tallies: dict[int, Tally] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rnd = random.Random(self.scenario.seed)
        self.queue_ids = {q.name: n for n, q in enumerate(self.scenario.queues, 1)}
        self.queues = dict(enumerate(self.scenario.queues, 1))
        for queue_id, queue in self.queues.items():
            self.router.upsert_queue(self._queue_spec(queue_id, queue))
            self.tallies[queue_id] = Tally()
        self._staff()

    @property
    def end(self) -> float:
        return self.scenario.hours * 3600

    @property
    def warmup(self) -> float:
        return self.scenario.warmup_minutes * 60

    def _queue_spec(self, queue_id: int, queue: SimQueue) -> QueueSpec:
        w = queue.weights
        overflow = tuple(
            Overflow(
                s.after_s,
                s.action,
                s.level_delta,
                s.drop_language,
                self.queue_ids.get(s.queue or ""),
            )
            for s in queue.overflow
        )
        weights = Weights(w.wait, w.tiers, w.priorities, w.sla_at_risk, w.sla_breached)
        auto = queue.answer_s == 0
        return QueueSpec(queue_id, queue.strategy, weights, overflow, queue.skills, None, auto)

    def _staff(self) -> None:
        agent_id = 0
        for group in self.scenario.agents:
            for _ in range(group.count):
                agent_id += 1
                self.router.upsert_agent(
                    AgentSpec(
                        agent_id,
                        capacity={str(k): n for k, n in group.capacity.items()},
                        blocks={k: list(v) for k, v in group.blocks.items()},
                        skills=group.skills,
                        languages=frozenset(group.languages),
                        idle_since=self.rnd.random(),
                    )
                )
                self.agents[agent_id] = _Agent()

    # -- the event loop ----------------------------------------------------------------------
    def at(self, when: float, kind: str, *data: Any) -> None:
        heapq.heappush(self._events, (when, next(self._seq), kind, data))

    def run(self) -> Simulation:
        for queue_id, queue in self.queues.items():
            if queue.arrivals_per_hour > 0:
                self.at(self._gap(queue), "arrive", queue_id)
        handlers: dict[str, Callable[..., None]] = {
            "arrive": self._arrive,
            "abandon": self._abandon,
            "answer": self._answer,
            "done": self._done,
            "wrapped": self._wrapped,
            "tick": lambda: None,
        }
        while self._events:
            when, _seq, kind, data = heapq.heappop(self._events)
            self.now = when
            handlers[kind](*data)
            self._decide()
            timer = self.router.next_timer()
            if timer is not None and (not self._events or timer < self._events[0][0]):
                self.at(timer, "tick")
        self._close_books()
        return self

    def _gap(self, queue: SimQueue) -> float:
        return self.rnd.expovariate(queue.arrivals_per_hour / 3600)

    def _decide(self) -> None:
        for decision in self.router.next_offers(self.now):
            queue = self.queues[decision.queue_id]
            if decision.auto_accept:
                self._start(decision.item_id, decision.agent_ids[0])
            else:
                agent_id = self.rnd.choice(decision.agent_ids)
                self.at(self.now + queue.answer_s, "answer", decision.item_id, agent_id)

    # -- events ------------------------------------------------------------------------------
    def _arrive(self, queue_id: int) -> None:
        queue = self.queues[queue_id]
        item_id = len(self.items) + 1
        counted = self.warmup <= self.now < self.end
        self.items[item_id] = _Item(queue_id, self.now, counted)
        self.tallies[queue_id].arrivals += counted
        language = self._pick(queue.languages)
        tier = "vip" if self.rnd.random() < queue.vip_share else "standard"
        spec = ItemSpec(
            item_id,
            queue_id,
            queue.media,
            dict(queue.skills),
            language,
            tier=tier,
            enqueued_at=self.now,
        )
        self.router.upsert_item(spec)
        if queue.patience is not None:
            self.at(self.now + queue.patience.sample(self.rnd), "abandon", item_id)
        following = self.now + self._gap(queue)
        if following < self.end:
            self.at(following, "arrive", queue_id)

    def _pick(self, shares: dict[str, float]) -> str | None:
        if not shares or not sum(shares.values()):
            return None
        return self.rnd.choices(list(shares), weights=list(shares.values()))[0]

    def _abandon(self, item_id: int) -> None:
        item = self.items[item_id]
        found = self.router.item(item_id)
        if item.answered or found is None:
            return
        self.router.remove_item(item_id)
        self.tallies[item.queue].abandoned += item.counted

    def _answer(self, item_id: int, agent_id: int) -> None:
        found = self.router.item(item_id)
        if found is None or found[1] != "offered" or agent_id not in found[2]:
            return
        self.router.accept(item_id, agent_id)
        self._start(item_id, agent_id)

    def _start(self, item_id: int, agent_id: int) -> None:
        item = self.items[item_id]
        found = self.router.item(item_id)
        assert found is not None
        item.answered = True
        queue_id = found[0].queue_id
        if item.counted:
            # Figures stay with the queue the customer entered, wherever overflow took them.
            waited = self.now - item.arrived
            tally = self.tallies[item.queue]
            tally.answered += 1
            tally.wait_s += waited
            tally.in_time += waited <= self.queues[item.queue].sl_threshold_s
        self._hold(agent_id, +1)
        handle = self.queues[queue_id].handle_time.sample(self.rnd)
        self.at(self.now + handle, "done", item_id, agent_id, queue_id)

    def _done(self, item_id: int, agent_id: int, queue_id: int) -> None:
        self.router.remove_item(item_id)
        wrap_up = self.queues[queue_id].wrap_up_s
        if wrap_up > 0 and not self.agents[agent_id].wrapping:
            self.agents[agent_id].wrapping = True
            self.router.set_state(agent_id, AgentState.after_call_work.value, self.now)
            self.at(self.now + wrap_up, "wrapped", agent_id)
        self._hold(agent_id, -1)

    def _wrapped(self, agent_id: int) -> None:
        self._hold(agent_id, 0, wrapping=False)
        self.router.set_state(agent_id, AgentState.available.value, self.now)

    def _hold(self, agent_id: int, change: int, wrapping: bool | None = None) -> None:
        """Occupancy bookkeeping: time with work in hand or in wrap-up, after the warm-up."""
        agent = self.agents[agent_id]
        was_busy = agent.holding > 0 or agent.wrapping
        agent.holding += change
        if wrapping is not None:
            agent.wrapping = wrapping
        is_busy = agent.holding > 0 or agent.wrapping
        if is_busy and not was_busy:
            agent.since = self.now
        elif was_busy and not is_busy:
            agent.busy_s += self._window(agent.since, self.now)

    def _window(self, start: float, stop: float) -> float:
        return max(0.0, min(stop, self.end) - max(start, self.warmup))

    def _close_books(self) -> None:
        for agent in self.agents.values():
            if agent.holding > 0 or agent.wrapping:
                agent.busy_s += self._window(agent.since, self.now)

    # -- results -----------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        total = Tally()
        for tally in self.tallies.values():
            total.add(tally)
        staffed = len(self.agents) * max(0.0, self.end - self.warmup)
        busy = sum(a.busy_s for a in self.agents.values())
        return {
            **total.figures(),
            "occupancy": round(busy / staffed, 4) if staffed else None,
            "queues": {self.queues[q].name: t.figures() for q, t in self.tallies.items()},
        }


def simulate(scenario: Scenario) -> dict[str, Any]:
    return Simulation(scenario).run().report()
