"""Two dispatchers deciding at the same moment on the same database (the lease bypassed on
purpose): the database still never lets an item be offered twice or an agent go over
capacity, because every decision is confirmed under the seat's lock by compare-and-set."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from kefu.config import Settings
from kefu.kit.time import FrozenClock
from kefu.routing import queues as queue_service
from kefu.routing import service as seats
from kefu.routing import work
from kefu.routing.core import AgentState
from kefu.routing.engine import Dispatcher
from kefu.routing.models import Offer, WorkItem
from kefu.routing.schemas import QueueCreate, SeatUpdate, StateChange, WorkIn
from kefu.runtime import Runtime
from tests.conftest import People


@pytest.fixture
async def pair(settings: Settings) -> AsyncIterator[tuple[Runtime, Runtime]]:
    clock = FrozenClock()
    runtimes = (Runtime.create(settings, clock), Runtime.create(settings, clock))
    for runtime in runtimes:
        runtime.bus.attach(asyncio.get_running_loop())
        runtime.db.start()
    yield runtimes
    for runtime in runtimes:
        await runtime.bus.drain()
        runtime.db.close()


async def test_two_dispatchers_at_once_never_double_offer(pair: tuple[Runtime, Runtime]) -> None:
    one, two = pair
    people = People(one)
    queue = one.db.run_write(queue_service.create_queue, QueueCreate(name="Race"))
    agents = [people.user("agent") for _ in range(6)]
    for agent in agents:
        principal = agent_principal(one, agent.id)
        capacity = SeatUpdate(capacity={"chat": 2, "voice": 1, "email": 0}, languages=["en"])
        one.db.run_write(seats.update_seat, agent.id, capacity)
        available = StateChange(state=AgentState.available)
        one.db.run_write(seats.change_state, principal, agent.id, available)
    for n in range(40):
        data = WorkIn(queue_id=queue.id, kind="chat", external_ref=f"race-{n}")
        one.db.run_write(work.enqueue_work, data)
    dispatchers = [Dispatcher(one), Dispatcher(two)]
    for _ in range(3):
        await asyncio.gather(*(d.tick(d.runtime) for d in dispatchers))
    offers, items = read_all(one)
    pending = [o for o in offers if o.status == "pending"]
    assert len(pending) == 12, "every agent filled to capacity"
    assert max(Counter(o.item_id for o in pending).values()) == 1
    per_agent = Counter(o.agent_id for o in pending)
    assert set(per_agent.values()) == {2}
    assert sum(1 for i in items if i.status == "offered") == 12


def agent_principal(runtime: Runtime, user_id: int) -> object:
    from kefu.accounts import service as accounts

    return runtime.db.run_read(accounts.principal_for_user, user_id)


def read_all(runtime: Runtime) -> tuple[list[Offer], list[WorkItem]]:
    def read(ctx: object) -> tuple[list[Offer], list[WorkItem]]:
        session = ctx.session  # type: ignore[attr-defined]
        offers = list(session.scalars(select(Offer)))
        items = list(session.scalars(select(WorkItem)))
        session.expunge_all()
        return offers, items

    return runtime.db.run_read(read)
