"""Redis fan-out: events committed in one kefu process reach the buses of all the others.

Each process publishes its local events to one Redis channel and relays what other
processes published to its own bus, marked ``origin="remote"`` so it is not sent back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from datetime import datetime
from typing import Any, Protocol

import orjson
import redis.asyncio as aioredis

from kefu.events.bus import Event, EventBus

log = logging.getLogger(__name__)
CHANNEL = "kefu:events"


class _HasBus(Protocol):
    bus: EventBus

    @property
    def settings(self) -> Any: ...


class RedisFanout:
    def __init__(self, bus: EventBus, client: aioredis.Redis) -> None:
        self.bus = bus
        self.client = client
        self.origin = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, runtime: _HasBus) -> RedisFanout:
        client = aioredis.from_url(runtime.settings.redis_url)
        fanout = cls(runtime.bus, client)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(CHANNEL)
        fanout._task = asyncio.create_task(fanout._relay(pubsub))
        runtime.bus.add_forwarder(fanout.forward)
        return fanout

    def forward(self, events: list[Event]) -> None:
        """Called from any thread after commit; the publish runs on the event loop."""
        payload = orjson.dumps({"origin": self.origin, "events": [e.as_dict() for e in events]})
        asyncio.run_coroutine_threadsafe(self._publish(payload), self._loop)

    async def _publish(self, payload: bytes) -> None:
        try:
            await self.client.publish(CHANNEL, payload)
        except Exception:
            log.exception("publishing events to Redis failed")

    async def _relay(self, pubsub: Any) -> None:
        async for message in pubsub.listen():
            try:
                data = orjson.loads(message["data"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
            if data.get("origin") == self.origin:
                continue
            self.bus.publish(
                Event(e["name"], e["payload"], datetime.fromisoformat(e["at"]), origin="remote")
                for e in data.get("events", [])
            )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.aclose()
