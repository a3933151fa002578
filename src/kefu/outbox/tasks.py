"""The delivery loop: claims due outbox items and runs their kind's handler."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

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
TASK_NAME = "outbox.deliver"


def register(kind: str, handler: Handler) -> None:
    HANDLERS[kind] = handler


async def deliver_due(runtime: Runtime) -> None:
    if not HANDLERS:
        return
    while True:
        batch = await runtime.db.write(service.claim_due, sorted(HANDLERS), 50)
        if not batch:
            return
        await asyncio.gather(*(_deliver(runtime, *item) for item in batch))


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
