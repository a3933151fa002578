"""Periodic tasks, run inside ``kefu serve`` (default) or by ``kefu worker``.

A task is an async function of the runtime. An exclusive task holds a lease in the
database while it runs, so with several kefu processes exactly one runs it; the lease
outlives a crashed holder by at most ``lease_s``. A task that raises is logged and runs
again at its next tick. ``wake(name)`` runs a task now instead of at its next tick (the
outbox uses it when something was enqueued).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kefu.worker import service

if TYPE_CHECKING:
    from kefu.runtime import Runtime

log = logging.getLogger(__name__)
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

    def add(self, task: PeriodicTask) -> None:
        if task.name in self.tasks:
            raise ValueError(f"task {task.name} is registered twice")
        self.tasks[task.name] = task

    def wake(self, name: str) -> None:
        task = self.tasks.get(name)
        if task is not None:
            task._wake.set()

    def start(self) -> None:
        for task in self.tasks.values():
            self._running.append(asyncio.create_task(self._loop(task), name=f"kefu:{task.name}"))

    async def stop(self) -> None:
        for running in self._running:
            running.cancel()
        for running in self._running:
            with contextlib.suppress(asyncio.CancelledError):
                await running
        self._running.clear()
        for task in self.tasks.values():
            if task.exclusive:
                with contextlib.suppress(Exception):
                    self.runtime.db.run_write(service.release_lease, task.name, self.holder)

    async def run_once(self, name: str) -> bool:
        """Run one tick of a task now (tests, CLI); False if another process holds it."""
        task = self.tasks[name]
        if task.exclusive:
            db = self.runtime.db
            if not await db.write(service.acquire_lease, task.name, self.holder, task.lease_s):
                return False
        await task.run(self.runtime)
        return True

    async def _loop(self, task: PeriodicTask) -> None:
        while True:
            try:
                await self.run_once(task.name)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic task %s failed", task.name)
            task._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(task._wake.wait(), timeout=task.interval_s)
