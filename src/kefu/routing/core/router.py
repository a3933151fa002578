"""The router: which waiting work item goes to which agent next. Pure Python, no I/O.

The service's dispatcher (``routing.engine``) feeds it rows read from the database and
writes its decisions back; ``kefu simulate`` drives it with a virtual clock. Both call the
same methods, so the simulation measures the router that runs in production.

Data structures (see docs/routing.md for the reasoning):
- Items are grouped by their requirements (queue, media, skills with levels, language,
  team, the agent they are reserved for). Every item of a group can go to exactly the same
  agents, so a group needs only its best item: a sorted list keyed by the static part of
  the priority score. The score of an item is ``wait * seconds waited + tier bonus +
  priority bonus + SLA step``; the waited part grows at the same rate for every item of a
  queue, so the order inside a group only changes at known instants (an SLA step, an
  overflow step), which timers apply.
- Each group keeps the agents who could take its head right now (ready, not cooling down,
  under capacity, not blocked by other work) in a sorted list keyed by the queue's
  strategy (longest idle, least busy, best skill, round robin, ring-all).
- A group is "touched" when it gains an item or a candidate agent; only touched groups
  are looked at. A decision costs O(groups touched + log n), whatever the number of
  waiting items and agents.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from sortedcontainers import SortedList

from kefu.routing.core.specs import (
    READY,
    AgentSpec,
    AgentState,
    Decision,
    GroupKey,
    ItemSpec,
    ItemStatus,
    QueueSpec,
    Strategy,
    eligible,
    fits,
    widen,
)


@dataclass(eq=False)
class _Group:
    key: GroupKey
    queue: QueueSpec
    items: SortedList = field(default_factory=SortedList)
    candidates: SortedList = field(default_factory=SortedList)
    members: dict[int, tuple[Any, ...]] = field(default_factory=dict)

    @property
    def media(self) -> str:
        return self.key[1]

    @property
    def reserved_for(self) -> int | None:
        return self.key[5]


@dataclass(eq=False)
class _Item:
    spec: ItemSpec
    status: str = ItemStatus.waiting.value
    agents: set[int] = field(default_factory=set)
    group: _Group | None = None
    entry: tuple[Any, ...] | None = None
    timer_at: float | None = None


@dataclass(eq=False)
class _Agent:
    spec: AgentSpec
    load: Counter[str] = field(default_factory=Counter)
    work: set[int] = field(default_factory=set)
    groups: set[_Group] = field(default_factory=set)
    cooling: bool = False


class Router:
    def __init__(self) -> None:
        self.now = 0.0
        self._queues: dict[int, QueueSpec] = {}
        self._agents: dict[int, _Agent] = {}
        self._items: dict[int, _Item] = {}
        self._groups: dict[GroupKey, _Group] = {}
        self._queue_groups: dict[int, set[_Group]] = {}
        self._reserved: dict[int, set[_Group]] = {}
        self._touched: set[_Group] = set()
        self._timers: list[tuple[float, int, str, int]] = []
        self._seq = itertools.count()
        self._round_robin: dict[int, int] = {}
        self._changed: dict[int, ItemSpec] = {}

    # -- queues ------------------------------------------------------------------------------
    def upsert_queue(self, spec: QueueSpec) -> None:
        self._queues[spec.id] = spec
        for group in list(self._queue_groups.get(spec.id, ())):
            group.queue = spec
            self._rebuild_candidates(group)
            for entry in list(group.items):
                self._attach(self._items[entry[-1]])

    def remove_queue(self, queue_id: int) -> None:
        for group in list(self._queue_groups.get(queue_id, ())):
            for entry in list(group.items):
                self.remove_item(entry[-1])
        self._queues.pop(queue_id, None)

    def queue(self, queue_id: int) -> QueueSpec | None:
        return self._queues.get(queue_id)

    @property
    def queue_ids(self) -> list[int]:
        return list(self._queues)

    # -- agents ------------------------------------------------------------------------------
    def upsert_agent(self, spec: AgentSpec) -> None:
        spec = replace(spec, blocks={k: frozenset(v) for k, v in spec.blocks.items()})
        agent = self._agents.get(spec.id)
        if agent is None:
            agent = self._agents[spec.id] = _Agent(spec)
            self._regroup_agent(agent)
        else:
            old, agent.spec = agent.spec, spec
            if (old.skills, old.languages, old.teams) != (spec.skills, spec.languages, spec.teams):
                self._regroup_agent(agent)
        agent.cooling = spec.cooldown_until > self.now
        if agent.cooling:
            self._schedule(spec.cooldown_until, "agent", spec.id)
        self._refresh(agent)

    def set_state(self, agent_id: int, state: str, now: float) -> None:
        agent = self._agents[agent_id]
        was_ready = agent.spec.state in READY
        agent.spec.state = state
        if state in READY and not was_ready:
            agent.spec.idle_since = now
        self._refresh(agent)

    def remove_agent(self, agent_id: int) -> None:
        agent = self._agents.pop(agent_id, None)
        if agent is None:
            return
        for group in agent.groups:
            self._set_member(group, agent.spec.id, None)
        agent.groups = set()
        for item_id in list(agent.work):
            self._release(agent, self._items[item_id], self.now)

    def agent(self, agent_id: int) -> AgentSpec | None:
        found = self._agents.get(agent_id)
        return None if found is None else found.spec

    def load(self, agent_id: int) -> dict[str, int]:
        return {m: n for m, n in self._agents[agent_id].load.items() if n}

    def work_of(self, agent_id: int) -> set[int]:
        return set(self._agents[agent_id].work)

    def can_take(self, agent_id: int, media: str) -> bool:
        return self._can_take(self._agents[agent_id], media)

    @property
    def agent_ids(self) -> list[int]:
        return list(self._agents)

    # -- items -------------------------------------------------------------------------------
    def upsert_item(
        self, spec: ItemSpec, status: str = ItemStatus.waiting.value, agents: Iterable[int] = ()
    ) -> None:
        """Add an item, or replace what is known of it (a row read again from the database)."""
        if spec.id in self._items:
            self.remove_item(spec.id)
        spec = replace(spec, skills=dict(spec.skills))
        if spec.queue_entered_at is None:
            spec.queue_entered_at = spec.enqueued_at
        item = self._items[spec.id] = _Item(spec, status)
        if status == ItemStatus.waiting:
            self._attach(item)
            return
        for agent_id in agents:
            self._take(self._agent_or_placeholder(agent_id), item, None)

    def remove_item(self, item_id: int) -> None:
        """The item left the router: answered and done, abandoned, cancelled."""
        item = self._items.pop(item_id, None)
        if item is None:
            return
        self._detach(item)
        for agent_id in list(item.agents):
            self._release(self._agents[agent_id], item, None)
        self._changed.pop(item_id, None)

    def item(self, item_id: int) -> tuple[ItemSpec, str, frozenset[int]] | None:
        found = self._items.get(item_id)
        if found is None:
            return None
        return found.spec, found.status, frozenset(found.agents)

    @property
    def item_ids(self) -> list[int]:
        return list(self._items)

    def waiting_count(self) -> int:
        return sum(len(g.items) for g in self._groups.values())

    def take_changes(self) -> list[ItemSpec]:
        """Items whose requirements changed by themselves (overflow, sticky release)."""
        changed, self._changed = list(self._changed.values()), {}
        return changed

    # -- offers ------------------------------------------------------------------------------
    def accept(self, item_id: int, agent_id: int) -> None:
        item = self._items[item_id]
        if agent_id not in item.agents:
            raise KeyError(f"item {item_id} is not offered to agent {agent_id}")
        for other in list(item.agents - {agent_id}):
            self._release(self._agents[other], item, None)
        item.status = ItemStatus.assigned.value

    def decline(self, item_id: int, agent_id: int, now: float, cooldown_s: float = 0.0) -> None:
        """A rejected, expired or withdrawn offer; the item goes back first in line."""
        item = self._items[item_id]
        agent = self._agents[agent_id]
        if cooldown_s > 0:
            agent.spec.cooldown_until = now + cooldown_s
            agent.cooling = True
            self._schedule(agent.spec.cooldown_until, "agent", agent_id)
        self._release(agent, item, now)

    def withdraw_all(self, agent_id: int, now: float) -> list[int]:
        """Take back every pending offer of an agent (gone offline, on break)."""
        agent = self._agents[agent_id]
        offered = [i for i in agent.work if self._items[i].status == ItemStatus.offered]
        for item_id in offered:
            self._release(agent, self._items[item_id], now)
        return offered

    def next_offers(self, now: float) -> list[Decision]:
        """Run due timers, then offer the best waiting items to the best free agents."""
        self.advance(now)
        decisions: list[Decision] = []
        while True:
            best: _Group | None = None
            best_rank: tuple[Any, ...] | None = None
            for group in list(self._touched):
                if not group.items or not group.candidates:
                    self._touched.discard(group)
                    continue
                rank = self._head_rank(group, now)
                if best_rank is None or rank < best_rank:
                    best, best_rank = group, rank
            if best is None:
                return decisions
            decisions.append(self._offer(best, now))

    def advance(self, now: float) -> None:
        self.now = max(self.now, now)
        while self._timers and self._timers[0][0] <= self.now:
            when, _seq, kind, key = heapq.heappop(self._timers)
            if kind == "agent":
                self._cooldown_over(key)
            else:
                item = self._items.get(key)
                if item is not None and item.timer_at == when:
                    self._reevaluate(item)

    def next_timer(self) -> float | None:
        return self._timers[0][0] if self._timers else None

    def score(self, item_id: int, now: float) -> tuple[int, float]:
        """(1 if returned to the front of the line else 0, priority score now): higher first."""
        spec = self._items[item_id].spec
        weights = self._queues[spec.queue_id].weights
        waited = now - spec.enqueued_at
        bonus = weights.bonus(spec.tier, spec.priority, spec.sla_due_at, now)
        return (1 if spec.front else 0, weights.wait * waited + bonus)

    # -- decisions ---------------------------------------------------------------------------
    def _head_rank(self, group: _Group, now: float) -> tuple[Any, ...]:
        front, neg_static, seq, _id = group.items[0]
        return (front, neg_static - group.queue.weights.wait * now, seq)

    def _offer(self, group: _Group, now: float) -> Decision:
        item = self._items[group.items[0][-1]]
        auto = group.queue.auto_accept
        agent_ids = self._pick(group, single=auto)
        self._detach(item)
        item.status = (ItemStatus.assigned if auto else ItemStatus.offered).value
        for agent_id in agent_ids:
            self._take(self._agents[agent_id], item, now)
        return Decision(item.spec.id, agent_ids, group.queue.id, auto)

    def _pick(self, group: _Group, single: bool) -> tuple[int, ...]:
        strategy = group.queue.strategy
        if strategy is Strategy.ring_all and not single:
            return tuple(key[-1] for key in group.candidates)
        if strategy is Strategy.round_robin:
            last = self._round_robin.get(group.queue.id, -1)
            index = group.candidates.bisect_right((last, float("inf")))
            chosen = group.candidates[index if index < len(group.candidates) else 0][-1]
            self._round_robin[group.queue.id] = chosen
            return (chosen,)
        return (group.candidates[0][-1],)

    def _candidate_key(self, agent: _Agent, group: _Group) -> tuple[Any, ...]:
        spec, strategy = agent.spec, group.queue.strategy
        if strategy in (Strategy.round_robin, Strategy.ring_all):
            return (spec.id,)
        if strategy is Strategy.least_busy:
            share = agent.load[group.media] / max(1, spec.capacity.get(group.media, 0))
            return (share, spec.idle_since, spec.id)
        if strategy is Strategy.best_skill:
            match = sum(spec.skills.get(name, 0) for name, _level in group.key[2])
            return (-match, spec.idle_since, spec.id)
        return (spec.idle_since, spec.id)

    def _can_take(self, agent: _Agent, media: str) -> bool:
        spec = agent.spec
        if spec.state not in READY or agent.cooling:
            return False
        return fits(spec.capacity, spec.blocks, agent.load, media)

    # -- agents inside -----------------------------------------------------------------------
    def _agent_or_placeholder(self, agent_id: int) -> _Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            agent = self._agents[agent_id] = _Agent(
                AgentSpec(agent_id, state=AgentState.offline.value, capacity={})
            )
        return agent

    def _regroup_agent(self, agent: _Agent) -> None:
        for group in agent.groups:
            self._set_member(group, agent.spec.id, None)
        candidates = itertools.chain(
            (g for g in self._groups.values() if g.reserved_for is None),
            self._reserved.get(agent.spec.id, ()),
        )
        agent.groups = {g for g in candidates if eligible(agent.spec, g.key)}

    def _refresh(self, agent: _Agent) -> None:
        for group in agent.groups:
            key = self._candidate_key(agent, group) if self._can_take(agent, group.media) else None
            self._set_member(group, agent.spec.id, key)

    def _set_member(self, group: _Group, agent_id: int, key: tuple[Any, ...] | None) -> None:
        old = group.members.get(agent_id)
        if old == key:
            return
        if old is not None:
            group.candidates.remove(old)
            del group.members[agent_id]
        if key is not None:
            group.candidates.add(key)
            group.members[agent_id] = key
            if group.items:
                self._touched.add(group)

    def _rebuild_candidates(self, group: _Group) -> None:
        for agent_id in list(group.members):
            self._set_member(group, agent_id, None)
        for agent in self._agents.values():
            if group in agent.groups and self._can_take(agent, group.media):
                self._set_member(group, agent.spec.id, self._candidate_key(agent, group))

    def _cooldown_over(self, agent_id: int) -> None:
        agent = self._agents.get(agent_id)
        if agent is not None and agent.cooling and agent.spec.cooldown_until <= self.now:
            agent.cooling = False
            self._refresh(agent)

    def _take(self, agent: _Agent, item: _Item, now: float | None) -> None:
        agent.load[item.spec.media] += 1
        agent.work.add(item.spec.id)
        item.agents.add(agent.spec.id)
        if now is not None:
            agent.spec.idle_since = now
        self._refresh(agent)

    def _release(self, agent: _Agent, item: _Item, now: float | None) -> None:
        """The agent no longer holds the item; an offered item nobody holds waits again."""
        if item.spec.id in agent.work:
            agent.load[item.spec.media] -= 1
            agent.work.discard(item.spec.id)
        item.agents.discard(agent.spec.id)
        self._refresh(agent)
        if now is not None and item.status == ItemStatus.offered and not item.agents:
            item.status = ItemStatus.waiting.value
            item.spec.front = True
            self._attach(item)

    # -- items inside ------------------------------------------------------------------------
    def _group_key(self, spec: ItemSpec) -> GroupKey:
        reserved = spec.sticky_agent_id if spec.sticky_until > self.now else None
        skills = tuple(sorted(spec.skills.items()))
        return (spec.queue_id, spec.media, skills, spec.language, spec.team_id, reserved)

    def _group(self, key: GroupKey) -> _Group:
        group = self._groups.get(key)
        if group is not None:
            return group
        group = self._groups[key] = _Group(key, self._queues[key[0]])
        self._queue_groups.setdefault(key[0], set()).add(group)
        reserved = key[5]
        if reserved is not None:
            self._reserved.setdefault(reserved, set()).add(group)
            agents: Iterable[_Agent] = filter(None, [self._agents.get(reserved)])
        else:
            agents = self._agents.values()
        for agent in agents:
            if eligible(agent.spec, key):
                agent.groups.add(group)
                if self._can_take(agent, group.media):
                    self._set_member(group, agent.spec.id, self._candidate_key(agent, group))
        return group

    def _drop_group(self, group: _Group) -> None:
        """Empty groups reserved for one agent are dropped so they do not pile up."""
        reserved = group.reserved_for
        if reserved is None or group.items:
            return
        del self._groups[group.key]
        self._queue_groups[group.key[0]].discard(group)
        self._reserved[reserved].discard(group)
        agent = self._agents.get(reserved)
        if agent is not None:
            agent.groups.discard(group)
        self._touched.discard(group)

    def _attach(self, item: _Item) -> None:
        """(Re)place a waiting item in its group at its current score; set its next timer."""
        self._detach(item)
        spec = item.spec
        queue = self._queues[spec.queue_id]
        weights = queue.weights
        static = weights.bonus(spec.tier, spec.priority, spec.sla_due_at, self.now)
        static -= weights.wait * spec.enqueued_at
        group = self._group(self._group_key(spec))
        item.entry = (0 if spec.front else 1, -static, next(self._seq), spec.id)
        item.group = group
        group.items.add(item.entry)
        if group.candidates:
            self._touched.add(group)
        self._set_timer(item, queue)

    def _detach(self, item: _Item) -> None:
        if item.group is not None and item.entry is not None:
            item.group.items.remove(item.entry)
            self._drop_group(item.group)
        item.group, item.entry = None, None

    def _set_timer(self, item: _Item, queue: QueueSpec) -> None:
        spec = item.spec
        times = [t for t in queue.weights.sla_steps(spec.sla_due_at) if t > self.now]
        if spec.overflow_step < len(queue.overflow):
            assert spec.queue_entered_at is not None
            times.append(spec.queue_entered_at + queue.overflow[spec.overflow_step].after_s)
        if spec.sticky_agent_id is not None and spec.sticky_until > self.now:
            times.append(spec.sticky_until)
        item.timer_at = min(times) if times else None
        if item.timer_at is not None:
            self._schedule(item.timer_at, "item", spec.id)

    def _schedule(self, when: float, kind: str, key: int) -> None:
        heapq.heappush(self._timers, (when, next(self._seq), kind, key))

    def _reevaluate(self, item: _Item) -> None:
        spec = item.spec
        changed = self._apply_overflow(spec)
        if spec.sticky_agent_id is not None and spec.sticky_until <= self.now:
            spec.sticky_agent_id, changed = None, True
        if changed:
            self._changed[spec.id] = spec
        if item.status == ItemStatus.waiting:
            self._attach(item)
        else:
            self._set_timer(item, self._queues[spec.queue_id])

    def _apply_overflow(self, spec: ItemSpec) -> bool:
        """Apply every overflow step that is due. A move into a queue the item already
        passed through now ends its overflow (two queues moving work to each other)."""
        queue = self._queues[spec.queue_id]
        visited = {queue.id}
        changed = False
        while spec.overflow_step < len(queue.overflow):
            step = queue.overflow[spec.overflow_step]
            assert spec.queue_entered_at is not None
            if self.now < spec.queue_entered_at + step.after_s:
                break
            spec.overflow_step += 1
            changed = True
            target = self._queues.get(step.queue_id or -1)
            if step.action == "move" and target is not None:
                spec.queue_id, spec.overflow_step, spec.queue_entered_at = target.id, 0, self.now
                spec.skills, spec.team_id, queue = dict(target.skills), target.team_id, target
                if target.id in visited:
                    spec.overflow_step = len(target.overflow)
                visited.add(target.id)
            elif step.action == "widen":
                spec.skills = widen(spec.skills, step.level_delta)
                spec.language = None if step.drop_language else spec.language
        return changed
