"""The event bus: subscribers by name pattern, delivery after commit, optional Redis fan-out.

Services never publish directly: they call ``ctx.emit(...)`` and the unit of work hands the
events to ``EventBus.publish`` only once its transaction has committed, so a rollback sends
nothing.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kefu.kit.time import utcnow

log = logging.getLogger(__name__)

Handler = Callable[["Event"], Awaitable[None] | None]


@dataclass(frozen=True)
class Event:
    name: str
    payload: dict[str, Any]
    occurred_at: datetime = field(default_factory=utcnow)
    origin: str = "local"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "payload": self.payload, "at": self.occurred_at.isoformat()}


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[tuple[str, Handler]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._forwarders: list[Callable[[list[Event]], None]] = []
        self._pending: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()
        # Handlers per event name, so publishing does not glob-match every subscription for
        # every event (dozens of them, several events per write); cleared on (un)subscribe.
        self._by_name: dict[str, list[Handler]] = {}

    def attach(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Handlers run on this loop; without one they run inline in the caller."""
        self._loop = loop

    def subscribe(self, pattern: str, handler: Handler) -> Callable[[], None]:
        """``pattern`` is a glob over event names: ``ticket.*``, ``*``, ``message.created``."""
        entry = (pattern, handler)
        with self._lock:
            self._subscribers.append(entry)
            self._by_name = {}

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._subscribers:
                    self._subscribers.remove(entry)
                    self._by_name = {}

        return unsubscribe

    def add_forwarder(self, forward: Callable[[list[Event]], None]) -> None:
        """A forwarder copies local events elsewhere (Redis) for other processes."""
        self._forwarders.append(forward)

    def publish(self, events: Iterable[Event]) -> None:
        """Deliver committed events. Safe to call from any thread."""
        batch = list(events)
        if not batch:
            return
        local = [e for e in batch if e.origin == "local"]
        for forward in self._forwarders:
            if local:
                forward(local)
        loop = self._loop
        if loop is None or loop.is_closed():
            self._deliver_inline(batch)
        elif _running_loop() is loop:
            self._deliver_on_loop(batch)
        else:
            loop.call_soon_threadsafe(self._deliver_on_loop, batch)

    def _handlers_for(self, name: str) -> list[Handler]:
        with self._lock:
            found = self._by_name.get(name)
            if found is None:
                found = [
                    h for pattern, h in self._subscribers if fnmatch.fnmatchcase(name, pattern)
                ]
                self._by_name[name] = found
        return found

    def _deliver_on_loop(self, batch: list[Event]) -> None:
        for event in batch:
            for handler in self._handlers_for(event.name):
                try:
                    result = handler(event)
                except Exception:
                    log.exception("event handler failed for %s", event.name)
                    continue
                if asyncio.iscoroutine(result):
                    task = asyncio.ensure_future(result)
                    self._pending.add(task)
                    task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("event handler failed", exc_info=task.exception())

    def _deliver_inline(self, batch: list[Event]) -> None:
        for event in batch:
            for handler in self._handlers_for(event.name):
                try:
                    result = handler(event)
                    if asyncio.iscoroutine(result):
                        asyncio.run(result)
                except Exception:
                    log.exception("event handler failed for %s", event.name)

    async def drain(self) -> None:
        """Wait for handlers already started (tests and shutdown use it)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
