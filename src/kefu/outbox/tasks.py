"""The delivery loop: claims due outbox items and runs their kind's handler."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from kefu.db import Database
from kefu.outbox import service

if TYPE_CHECKING:
    from kefu.runtime import Runtime

log = logging.getLogger(__name__)
# A handler delivers one item; it returns a small result dict (or a ``service.Delivered``,
# whose record is written with the mark) or raises to ask for a retry.
Handler = Callable[
    ["Runtime", dict[str, Any]], Awaitable[dict[str, Any] | service.Delivered | None]
]
HANDLERS: dict[str, Handler] = {}
_rounds: WeakKeyDictionary[Database, asyncio.Lock] = WeakKeyDictionary()
TASK_NAME = "outbox.deliver"
CLAIM_BATCH = 50


def register(kind: str, handler: Handler) -> None:
    HANDLERS[kind] = handler


async def deliver_due(runtime: Runtime) -> None:
    """Claim and deliver due items until a claim finds none. (That last claim also waits
    behind the writes the round's events started, such as a failed send's message marked
    failed, so they are done when this returns.)"""
    if not HANDLERS:
        return
    async with _round_lock(runtime):
        while True:
            batch = await runtime.db.write(service.claim_due, sorted(HANDLERS), CLAIM_BATCH)
            if not batch:
                return
            await asyncio.gather(*(_deliver(runtime, *item) for item in batch))


def _round_lock(runtime: Runtime) -> asyncio.Lock:
    """One delivery round at a time in a process: a direct call (the CLI, a test) waits for
    the scheduler's round in flight, so when it returns what was due has been delivered,
    not merely claimed by the other round."""
    lock = _rounds.get(runtime.db)
    if lock is None:
        lock = _rounds[runtime.db] = asyncio.Lock()
    return lock


async def _deliver(
    runtime: Runtime, item_id: int, kind: str, payload: dict[str, Any], attempt: int
) -> None:
    try:
        result = await HANDLERS[kind](runtime, payload)
        if isinstance(result, service.Delivered):
            await runtime.db.write(service.complete, item_id, result)
            return
    except Exception as exc:
        permanent = isinstance(exc, service.PermanentFailure)
        status = await runtime.db.write(
            service.mark_failed, item_id, f"{type(exc).__name__}: {exc}", permanent
        )
        log.warning("outbox %s #%s attempt %s failed (%s): %s", kind, item_id, attempt, status, exc)
        return
    await runtime.db.write(service.mark_sent, item_id, result)
