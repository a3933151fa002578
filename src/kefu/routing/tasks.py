"""Routing's background work: the dispatch task (one leader at a time, by lease) and the
ticket events that put tickets in queues and take them out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from kefu.events import Event
from kefu.routing import work
from kefu.routing.engine import TASK_NAME, Dispatcher
from kefu.worker.scheduler import PeriodicTask

if TYPE_CHECKING:
    from kefu.runtime import Runtime


def register(runtime: Runtime, *, interval_s: float = 1.0, lease_s: float = 10.0) -> Dispatcher:
    dispatcher = Dispatcher(runtime, lease_s=lease_s)
    runtime.scheduler.add(
        PeriodicTask(TASK_NAME, interval_s, dispatcher.tick, exclusive=True, lease_s=lease_s)
    )
    for pattern in ("routing.*", "team.*", "user.*"):
        runtime.bus.subscribe(pattern, dispatcher.notice)
    bus = runtime.bus
    bus.subscribe("ticket.created", lambda e: _created(runtime, e))
    bus.subscribe("ticket.updated", lambda e: _changed(runtime, e))
    bus.subscribe("ticket.deleted", lambda e: _local(runtime, e, _gone, [e.payload["ticket_id"]]))
    bus.subscribe(
        "ticket.merged", lambda e: _local(runtime, e, _gone, e.payload.get("source_ids") or [])
    )
    return dispatcher


def dispatcher_of(runtime: Runtime) -> Dispatcher | None:
    task = runtime.scheduler.tasks.get(TASK_NAME)
    owner = getattr(task.run, "__self__", None) if task is not None else None
    return owner if isinstance(owner, Dispatcher) else None


def _created(runtime: Runtime, event: Event) -> Awaitable[Any] | None:
    # Checked before queueing: a write job that would do nothing still costs the writer.
    if not work.routes_new_ticket(event.payload):
        return None
    return _local(runtime, event, work.on_ticket_created, event.payload)


def _changed(runtime: Runtime, event: Event) -> Awaitable[Any] | None:
    if not work.concerns_routing(event.payload.get("changes") or []):
        return None
    return _local(runtime, event, _updated, event.payload)


def _updated(ctx: Any, payload: dict[str, Any]) -> None:
    work.on_ticket_updated(ctx, int(payload["ticket_id"]), payload.get("changes") or [])


def _gone(ctx: Any, ticket_ids: list[int]) -> None:
    work.answered_elsewhere(ctx, [int(t) for t in ticket_ids], "ticket deleted or merged")


def _local(runtime: Runtime, event: Event, fn: Any, arg: Any) -> Awaitable[Any] | None:
    """Act on a ticket event once: in the process where it happened. With an event loop the
    write is queued (a coroutine the bus runs); without one (CLI, demo loader) it runs now."""
    if event.origin != "local":
        return None
    loop = None
    with contextlib.suppress(RuntimeError):
        loop = asyncio.get_running_loop()
    if loop is None:
        runtime.db.run_write(fn, arg)
        return None
    return runtime.db.write(fn, arg)
