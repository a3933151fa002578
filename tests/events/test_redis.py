"""Redis fan-out: an event committed in one kefu process reaches the bus of another."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest
import redis
from asgi_lifespan import LifespanManager

from kefu.config import Settings
from kefu.events import Event
from kefu.main import create_app
from kefu.runtime import Runtime
from tests.conftest import People, ticket_body

REDIS_URL = os.environ.get("KEFU_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_reachable() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_url() -> str:
    if not redis_reachable():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Redis tests, but {REDIS_URL} does not answer")
        pytest.skip(f"no Redis at {REDIS_URL}")
    return REDIS_URL


async def wait_for(seen: list[Event], count: int) -> None:
    for _ in range(200):
        if len(seen) >= count:
            return
        await asyncio.sleep(0.01)


async def two_processes(
    settings: Settings, redis_url: str, stack: AsyncExitStack
) -> tuple[Runtime, Runtime, httpx.AsyncClient]:
    shared = settings.model_copy(update={"redis_url": redis_url})
    runtimes: list[Runtime] = []
    client: httpx.AsyncClient | None = None
    for _ in range(2):
        app = create_app(shared)
        await stack.enter_async_context(LifespanManager(app))
        runtimes.append(app.state.runtime)
        if client is None:
            transport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url="http://kefu.test")
            await stack.enter_async_context(client)
    assert client is not None
    return runtimes[0], runtimes[1], client


@pytest.fixture
async def pair(
    settings: Settings, redis_url: str
) -> AsyncIterator[tuple[Runtime, Runtime, httpx.AsyncClient]]:
    async with AsyncExitStack() as stack:
        yield await two_processes(settings, redis_url, stack)


async def test_a_committed_event_reaches_the_other_process(
    pair: tuple[Runtime, Runtime, httpx.AsyncClient],
) -> None:
    here, there, client = pair
    channel = "t" + uuid.uuid4().hex[:12]  # unique, as other test runs may share this Redis
    mine: list[Event] = []
    theirs: list[Event] = []
    here.bus.subscribe(
        "ticket.created", lambda e: mine.append(e) if e.payload["channel"] == channel else None
    )
    there.bus.subscribe(
        "ticket.created", lambda e: theirs.append(e) if e.payload["channel"] == channel else None
    )
    agent = People(here).user("agent")
    created = await client.post(
        "/api/v1/tickets", json=ticket_body(channel=channel), headers=agent.headers
    )
    assert created.status_code == 201, created.text
    await wait_for(theirs, 1)
    assert len(theirs) == 1
    assert theirs[0].origin == "remote"
    assert theirs[0].payload["ticket_id"] == created.json()["id"]
    assert theirs[0].occurred_at == mine[0].occurred_at
    await asyncio.sleep(0.1)
    assert [e.origin for e in mine] == ["local"], "a process does not hear its own events back"
    assert len(theirs) == 1


async def test_a_rolled_back_write_sends_nothing_across(
    pair: tuple[Runtime, Runtime, httpx.AsyncClient],
) -> None:
    here, there, _ = pair
    marker = uuid.uuid4().hex
    theirs: list[Event] = []
    there.bus.subscribe(
        "probe.*", lambda e: theirs.append(e) if e.payload["marker"] == marker else None
    )

    def emit_then_fail(ctx: object) -> None:
        ctx.emit("probe.failed", marker=marker)  # type: ignore[attr-defined]
        raise RuntimeError("rolled back")

    def emit(ctx: object) -> None:
        ctx.emit("probe.ok", marker=marker)  # type: ignore[attr-defined]

    with pytest.raises(RuntimeError):
        await here.db.write(emit_then_fail)
    await here.db.write(emit)
    await wait_for(theirs, 1)
    await asyncio.sleep(0.1)
    assert [e.name for e in theirs] == ["probe.ok"]
