"""Periodic tasks, run inside ``kefu serve`` (default) or by ``kefu worker``.

A task is an async function of the runtime. An exclusive task holds a lease in the
database while it runs, so with several kefu processes exactly one runs it; the lease
outlives a crashed holder by at most ``lease_s``. The holder renews it once a quarter of
it has passed (``RENEW_AFTER``), not on every run: a task woken hundreds of times a second
would otherwise write its lease row as often. A task that raises is logged and runs again
at its next tick.

``wake(name)`` runs a task now instead of at its next tick (the outbox uses it when
something was enqueued). The wake-up flag is cleared *before* a run, so a wake-up that
arrives while the task runs (work committed after the run looked) makes it run again at
once; a task may therefore stop as soon as it finds less than a full batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from kefu.worker import service

if TYPE_CHECKING:
    from kefu.runtime import Runtime

log = logging.getLogger(__name__)
RENEW_AFTER = 0.25  # of the lease: a lease held longer than this ago is written again
TaskFn = Callable[["Runtime"], Awaitable[None]]


@dataclass
class PeriodicTask:
    name: str
    interval_s: float
    run: TaskFn
    exclusive: bool = True
    lease_s: float = 30.0
    _wake: asyncio.Event = field(default_factory=asyncio.Event, repr=False)


class Scheduler:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.holder = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.tasks: dict[str, PeriodicTask] = {}
        self._running: list[asyncio.Task[None]] = []
        self._stopping = False
        # task name -> when our lease on it runs out, as this process wrote it (runtime clock)
        self._held: dict[str, datetime] = {}

    def add(self, task: PeriodicTask) -> None:
        if task.name in self.tasks:
            raise ValueError(f"task {task.name} is registered twice")
        self.tasks[task.name] = task

    def wake(self, name: str) -> None:
        task = self.tasks.get(name)
        if task is not None:
            task._wake.set()

    def start(self) -> None:
        self._stopping = False
        for task in self.tasks.values():
            self._running.append(asyncio.create_task(self._loop(task), name=f"kefu:{task.name}"))

    async def stop(self) -> None:
        self._stopping = True
        for running in self._running:
            running.cancel()
        for running in self._running:
            with contextlib.suppress(asyncio.CancelledError):
                await running
        self._running.clear()
        self._held.clear()
        for task in self.tasks.values():
            if task.exclusive:
                with contextlib.suppress(Exception):
                    self.runtime.db.run_write(service.release_lease, task.name, self.holder)

    async def run_once(self, name: str) -> bool:
        """Run one tick of a task now (tests, CLI); False if another process holds it."""
        task = self.tasks[name]
        if task.exclusive and not await self._lease(task):
            return False
        await task.run(self.runtime)
        return True

    async def _lease(self, task: PeriodicTask) -> bool:
        """Hold the task's lease: written when less than ``1 - RENEW_AFTER`` of it is left
        (so another process, which may take it only once it ran out, cannot hold it)."""
        now = self.runtime.clock.now()
        held = self._held.get(task.name)
        if held is not None and held - now > timedelta(seconds=task.lease_s * (1 - RENEW_AFTER)):
            return True
        self._held.pop(task.name, None)
        db = self.runtime.db
        if not await db.write(service.acquire_lease, task.name, self.holder, task.lease_s):
            return False
        # ``now`` was read before the write: the lease runs out no sooner than this
        self._held[task.name] = now + timedelta(seconds=task.lease_s)
        return True

    async def _loop(self, task: PeriodicTask) -> None:
        while not self._stopping:
            task._wake.clear()  # before the run: a wake-up during it is not lost
            try:
                await self.run_once(task.name)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic task %s failed", task.name)
            if not task._wake.is_set():
                await _wait(task._wake, task.interval_s)


async def _wait(event: asyncio.Event, timeout_s: float) -> None:
    """Until the event is set or the time is up. Not ``asyncio.wait_for``: on Python 3.11 it
    swallows a cancellation that arrives as the event is set, and ``stop`` then waited for a
    loop that went on running."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait((waiter,), timeout=timeout_s)
    finally:
        waiter.cancel()
