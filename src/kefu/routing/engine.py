"""The dispatcher: the router core of the one process that holds the routing lease, kept in
step with the database.

- It loads everything active (queues, seats, waiting / offered / held items) when it
  becomes the leader, after a gap longer than the lease, and every ``reload_s``.
- Between loads it learns what changed from the ``routing.*`` events of every process
  (local, or relayed by Redis) but takes from an event only *which* rows changed; it reads
  those rows again, so an event that arrives late or twice does no harm.
- It asks the core for decisions and writes each with ``offers.make_offer``, which the
  database may refuse (another process got there first); refused rows are read again.
- Timers run on the injected clock: expired offers, ended wrap-ups, agents whose browser
  went quiet, and the core's own (overflow steps, sticky holds, SLA steps).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kefu.accounts import service as accounts
from kefu.db import Ctx
from kefu.events import Event
from kefu.routing import offers, work
from kefu.routing import repository as repo
from kefu.routing import service as seats
from kefu.routing.convert import agent_spec, item_spec, queue_spec
from kefu.routing.core import (
    AgentSpec,
    ItemSpec,
    QueueSpec,
    Router,
)
from kefu.routing.models import WorkItem
from kefu.routing.queues import roster

if TYPE_CHECKING:
    from kefu.runtime import Runtime

log = logging.getLogger(__name__)
TASK_NAME = "routing.dispatch"
SWEEP_S = 1.0
FAST_ROUNDS = 5
MAX_DIRTY = 50_000


@dataclass
class ItemRow:
    spec: ItemSpec
    status: str
    agents: tuple[int, ...]


@dataclass
class Changes:
    """Rows read again: what is, and what is gone."""

    queues: list[QueueSpec] = field(default_factory=list)
    queues_gone: list[int] = field(default_factory=list)
    agents: list[AgentSpec] = field(default_factory=list)
    agents_gone: list[int] = field(default_factory=list)
    items: list[ItemRow] = field(default_factory=list)
    items_gone: list[int] = field(default_factory=list)
    whole_roster: bool = False  # agents not listed are gone (deactivated, seat deleted)


def _item_rows(ctx: Ctx, rows: Iterable[WorkItem]) -> tuple[list[ItemRow], list[int]]:
    rows = list(rows)
    offered: dict[int, list[int]] = {}
    for item_id, agent_id in repo.pending_offers(ctx.session, [r.id for r in rows]):
        offered.setdefault(item_id, []).append(agent_id)
    live, gone = [], []
    for row in rows:
        if row.status == "waiting":
            live.append(ItemRow(item_spec(row), row.status, ()))
        elif row.status == "offered":
            live.append(ItemRow(item_spec(row), row.status, tuple(offered.get(row.id, ()))))
        elif row.status == "assigned" and row.agent_id is not None:
            live.append(ItemRow(item_spec(row), row.status, (row.agent_id,)))
        else:
            gone.append(row.id)
    return live, gone


def read_everything(ctx: Ctx) -> Changes:
    seat_rows, users = roster(ctx)
    items, _ = _item_rows(ctx, repo.active_items(ctx.session))
    return Changes(
        queues=[queue_spec(q) for q in repo.list_queues(ctx.session)],
        agents=[agent_spec(s, users[s.user_id]) for s in seat_rows],
        items=items,
    )


def read_changes(
    ctx: Ctx,
    item_ids: set[int],
    seat_ids: set[int] | None,
    queue_ids: set[int],
    known_queues: frozenset[int] = frozenset(),
) -> Changes:
    """``seat_ids`` None means every seat (team memberships changed). A queue is read when
    it changed (its own event names it) or the router does not know it yet: an item that
    moves does not change its queue."""
    changes = Changes()
    rows = repo.items_by_ids(ctx.session, item_ids)
    changes.items, changes.items_gone = _item_rows(ctx, rows)
    changes.items_gone += sorted(item_ids - {r.id for r in rows})
    for queue_id in queue_ids | ({r.queue_id for r in rows} - known_queues):
        queue = repo.get_queue(ctx.session, queue_id)
        if queue is None:
            changes.queues_gone.append(queue_id)
        else:
            changes.queues.append(queue_spec(queue))
    if seat_ids is None:
        seat_rows, users = roster(ctx)
        changes.agents = [agent_spec(s, users[s.user_id]) for s in seat_rows]
        changes.whole_roster = True
        return changes
    found = repo.list_seats(ctx.session, sorted(seat_ids))
    for seat in found:
        changes.agents.append(agent_spec(seat, accounts.get_user(ctx, seat.user_id)))
    changes.agents_gone = sorted(seat_ids - {s.user_id for s in found})
    return changes


def apply(router: Router, changes: Changes) -> None:
    for queue in changes.queues:
        router.upsert_queue(queue)
    for agent in changes.agents:
        router.upsert_agent(agent)
    gone = set(changes.agents_gone)
    if changes.whole_roster:
        gone |= set(router.agent_ids) - {a.id for a in changes.agents}
    for agent_id in gone:
        router.remove_agent(agent_id)
    for item_id in changes.items_gone:
        router.remove_item(item_id)
    for row in changes.items:
        if router.queue(row.spec.queue_id) is not None:
            router.upsert_item(row.spec, row.status, row.agents)
    for queue_id in changes.queues_gone:
        router.remove_queue(queue_id)


def sweep(ctx: Ctx, grace_s: float) -> None:
    """The timers kept in the database, in one transaction."""
    offers.expire_due(ctx)
    seats.end_wrap_ups(ctx)
    seats.set_offline_gone_quiet(ctx, grace_s)


class Dispatcher:
    def __init__(
        self,
        runtime: Runtime,
        *,
        lease_s: float = 10.0,
        reload_s: float = 300.0,
        grace_s: float = 45.0,
    ) -> None:
        self.runtime = runtime
        self.lease_s, self.reload_s, self.grace_s = lease_s, reload_s, grace_s
        self.router: Router | None = None
        self.loaded_at = self.last_tick = 0.0
        self.swept_at: datetime | None = None
        self._items: set[int] = set()
        self._seats: set[int] | None = set()
        self._queues: set[int] = set()
        self._overflowed = False
        self._filed = False  # work filed straight from an event, not yet decided on
        self._lock = asyncio.Lock()
        self._led_at: datetime | None = None
        self._fast_task: asyncio.Future[None] | None = None

    # -- events ------------------------------------------------------------------------------
    @property
    def ident(self) -> str:
        return f"{self.runtime.scheduler.holder}/{id(self):x}"

    def notice(self, event: Event) -> None:
        """Note which rows an event touched, and wake the dispatch task."""
        payload = event.payload
        if payload.get("router") == self.ident:
            return  # our own decision, already in the core
        if not self._took_new_item(payload) and "item_id" in payload:
            self._items.add(int(payload["item_id"]))
        if event.name.startswith("routing.queue."):
            self._queues.add(int(payload["queue_id"]))
        if event.name.startswith(("team.", "user.")):
            self._seats = None
        elif self._seats is not None:
            for key in ("agent_id", "user_id", "previous_agent_id"):
                if payload.get(key) is not None:
                    self._seats.add(int(payload[key]))
        if len(self._items) + len(self._seats or ()) > MAX_DIRTY:
            self._overflowed = True
            self._items, self._seats, self._queues = set(), set(), set()
        if self.leading and self.runtime.settings.run_worker:
            if self._fast_task is None or self._fast_task.done():
                self._fast_task = asyncio.ensure_future(self._fast())
        else:
            self.runtime.scheduler.wake(TASK_NAME)

    def _took_new_item(self, payload: dict[str, Any]) -> bool:
        """A queued item's event carries its row: file it without reading it back. (A
        later change arrives as its own event; a stale one is refused by the database.)"""
        spec = payload.get("spec")
        if spec is None or self.router is None:
            return False
        item = ItemSpec(**{**spec, "skills": dict(spec["skills"])})
        if self.router.queue(item.queue_id) is None:
            return False
        self.router.upsert_item(item)
        self._filed = True
        return True

    @property
    def leading(self) -> bool:
        """This process ran the leased task within half a lease: no other can hold it."""
        if self._led_at is None or self.router is None:
            return False
        return (self.runtime.clock.now() - self._led_at).total_seconds() < self.lease_s / 2

    async def _fast(self) -> None:
        """Between the leased ticks, changes are routed at once, without a lease write."""
        for _ in range(FAST_ROUNDS):
            await asyncio.sleep(0)  # let a burst of events land first
            async with self._lock:
                if not self.leading or not (
                    self._items or self._seats or self._queues or self._filed
                ):
                    return
                await self._sync()
                await self._decide()

    # -- the task ----------------------------------------------------------------------------
    async def tick(self, runtime: Runtime) -> None:
        """One round of the leased task (the scheduler holds the lease for us)."""
        led_at = runtime.clock.now()
        async with self._lock:
            mono = time.monotonic()
            stale = mono - self.last_tick > self.lease_s or mono - self.loaded_at > self.reload_s
            if self.router is None or stale or self._overflowed:
                await self._load()
            self.last_tick = time.monotonic()
            self._led_at = led_at
            now = runtime.clock.now()
            if self.swept_at is None or (now - self.swept_at).total_seconds() >= SWEEP_S:
                await runtime.db.write(sweep, self.grace_s)
                self.swept_at = now
            await self._sync()
            await self._decide()

    async def _load(self) -> None:
        self._items, self._seats, self._queues = set(), set(), set()
        self._overflowed = False
        changes = await self.runtime.db.read(read_everything)
        router = Router()
        router.advance(self.runtime.clock.now().timestamp())
        await asyncio.to_thread(apply, router, changes)
        self.router = router
        self.loaded_at = time.monotonic()
        log.info("routing: loaded %d items, %d agents", len(changes.items), len(changes.agents))

    async def _sync(self) -> None:
        assert self.router is not None
        items, seat_ids, queue_ids = self._items, self._seats, self._queues
        if not (items or seat_ids is None or seat_ids or queue_ids):
            return
        self._items, self._seats, self._queues = set(), set(), set()
        known = frozenset(self.router.queue_ids)
        changes = await self.runtime.db.read(read_changes, items, seat_ids, queue_ids, known)
        self.router.advance(self.runtime.clock.now().timestamp())
        apply(self.router, changes)

    async def _decide(self) -> None:
        router = self.router
        assert router is not None
        self._filed = False
        decisions = router.next_offers(self.runtime.clock.now().timestamp())
        moved = router.take_changes()
        if moved:
            await self.runtime.db.write(work.save_requirements, moved)
        if not decisions:
            return
        results = await asyncio.gather(
            *(self.runtime.db.write(offers.make_offer, d, self.ident) for d in decisions),
            return_exceptions=True,
        )
        for decision, result in zip(decisions, results, strict=True):
            if result is True:
                continue
            if isinstance(result, BaseException):
                log.warning("routing: writing an offer failed: %s", result)
            self._items.add(decision.item_id)
            if self._seats is not None:
                self._seats.update(decision.agent_ids)
