"""The scheduler: a wake-up during a run is not lost; an exclusive task's lease is written
when it needs renewing, not on every run, and still keeps a second process out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from sqlalchemy import select

from kefu.config import Settings
from kefu.kit.time import FrozenClock
from kefu.runtime import Runtime
from kefu.worker.models import WorkerLease
from kefu.worker.scheduler import PeriodicTask, Scheduler


@pytest.fixture
async def runtime(settings: Settings, clock: FrozenClock) -> AsyncIterator[Runtime]:
    rt = Runtime.create(settings, clock)
    rt.bus.attach(asyncio.get_running_loop())
    rt.db.start()
    yield rt
    await rt.scheduler.stop()
    rt.db.close()


def lease_until(runtime: Runtime, name: str) -> datetime | None:
    def read(ctx: object) -> datetime | None:
        session = ctx.session  # type: ignore[attr-defined]
        found: datetime | None = session.scalar(
            select(WorkerLease.expires_at).where(WorkerLease.name == name)
        )
        return found

    return runtime.db.run_read(read)


async def test_a_wake_up_during_a_run_runs_the_task_again_at_once(runtime: Runtime) -> None:
    runs: list[int] = []
    second = asyncio.Event()

    async def task(rt: Runtime) -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            rt.scheduler.wake("t")  # work committed while this run was past looking for it
        else:
            second.set()

    runtime.scheduler.add(PeriodicTask("t", 60.0, task))
    runtime.scheduler.start()
    await asyncio.wait_for(second.wait(), 5)  # not the 60 s interval
    assert runs == [0, 1]


async def test_the_lease_is_renewed_when_a_quarter_has_passed(
    runtime: Runtime, clock: FrozenClock
) -> None:
    runs: list[str] = []

    async def task(_: Runtime) -> None:
        runs.append("run")

    scheduler = runtime.scheduler
    scheduler.add(PeriodicTask("t", 60.0, task, lease_s=40.0))
    assert await scheduler.run_once("t")
    first = lease_until(runtime, "t")
    clock.advance(seconds=9)
    assert await scheduler.run_once("t")
    assert lease_until(runtime, "t") == first  # fresh: not written again
    clock.advance(seconds=2)  # 11 s of 40 s: renewed
    assert await scheduler.run_once("t")
    renewed = lease_until(runtime, "t")
    assert first is not None and renewed is not None
    assert (renewed - first).total_seconds() == 11
    assert runs == ["run"] * 3


async def test_another_process_waits_for_the_lease_and_the_first_then_stops(
    runtime: Runtime, clock: FrozenClock
) -> None:
    runs: list[str] = []

    def task_of(who: str) -> PeriodicTask:
        async def task(_: Runtime) -> None:
            runs.append(who)

        return PeriodicTask("t", 60.0, task, lease_s=40.0)

    one, other = runtime.scheduler, Scheduler(runtime)
    one.add(task_of("one"))
    other.add(task_of("other"))
    assert await one.run_once("t")
    for _ in range(8):  # one keeps it, mostly without writing; the other never gets in
        clock.advance(seconds=5)
        assert await one.run_once("t")
        assert not await other.run_once("t")
    clock.advance(seconds=41)  # one stopped running it: its lease lapses
    assert await other.run_once("t")
    assert not await one.run_once("t")  # one's memory of its lease is not trusted now
    assert runs == ["one"] * 9 + ["other"]
