"""The database is the router's truth: a restarted kefu loses no queued work and no agent
state, and offers that were in flight are still answerable, or re-offered when they lapse."""

from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager

from kefu.config import Settings
from kefu.kit.time import FrozenClock
from kefu.main import create_app
from kefu.routing.engine import TASK_NAME
from tests.routing.conftest import Desk


async def test_restart_keeps_queues_states_and_offers(
    desk: Desk, settings: Settings, clock: FrozenClock
) -> None:
    queue = await desk.queue(name="Q", offer_timeout_s=30)
    busy = await desk.agent(capacity={"chat": 1})
    await desk.state(await desk.agent(available=False), "offline")
    items = [
        await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref=f"c{n}")
        for n in range(3)
    ]
    await desk.dispatch()
    in_flight = (await desk.offers(busy))[0]
    assert in_flight["item_id"] == items[0]["id"]

    restarted = create_app(settings, clock)
    async with LifespanManager(restarted):
        transport = httpx.ASGITransport(app=restarted)
        async with httpx.AsyncClient(transport=transport, base_url="http://kefu.test") as client:
            runtime = restarted.state.runtime
            # The first process still holds the routing lease: it is taken over once it lapses.
            assert not await runtime.scheduler.run_once(TASK_NAME)
            clock.advance(seconds=11)
            assert await runtime.scheduler.run_once(TASK_NAME)
            me = await client.get("/api/v1/agents/me", headers=busy.headers)
            assert me.json()["state"] == "available"
            offers = await client.get("/api/v1/routing/offers", headers=busy.headers)
            assert [o["id"] for o in offers.json()] == [in_flight["id"]]
            waiting = await client.get(
                f"/api/v1/routing/queues/{queue['id']}/stats", headers=desk.lead.headers
            )
            assert (waiting.json()["waiting"], waiting.json()["offered"]) == (2, 1)
            clock.advance(seconds=19)
            assert await runtime.scheduler.run_once(TASK_NAME)
            clock.advance(seconds=10)
            assert await runtime.scheduler.run_once(TASK_NAME)
            again = await client.get("/api/v1/routing/offers", headers=busy.headers)
            assert [o["item_id"] for o in again.json()] == [items[0]["id"]]
            assert again.json()[0]["id"] != in_flight["id"]
