"""Background work of the SLA: the sweep that fires warnings and breaches every second, and
the re-application of changed policies to open tickets (an outbox job, so it survives a
restart and resumes where it stopped)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from kefu.db import Ctx
from kefu.outbox import service as outbox
from kefu.sla import escalation, service
from kefu.sla.policies import REAPPLY_KIND

if TYPE_CHECKING:
    from kefu.runtime import Runtime

TASK_NAME = "sla.sweep"
INTERVAL_S = 1.0
REAPPLY_BUDGET_S = 10.0


async def sweep_due(runtime: Runtime) -> None:
    """One tick: fire everything due, in batches, until nothing is left."""
    while True:
        result = await runtime.db.write(escalation.sweep)
        if not result.more:
            return


async def reapply(runtime: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """Walk open tickets in batches for up to ``REAPPLY_BUDGET_S``, then hand the rest to a
    follow-up job, so one job never holds the outbox for long."""
    token, after = str(payload["token"]), int(payload["after_id"])
    started = time.monotonic()
    batches = 0
    while True:
        last = await runtime.db.write(service.reapply_batch, token, after)
        batches += 1
        if last is None:
            return {"batches": batches, "done": True}
        after = last
        if time.monotonic() - started > REAPPLY_BUDGET_S:
            await runtime.db.write(_continue, token, after)
            return {"batches": batches, "done": False, "after_id": after}


def _continue(ctx: Ctx, token: str, after_id: int) -> None:
    payload = {"token": token, "after_id": after_id}
    outbox.enqueue(ctx, REAPPLY_KIND, payload, key=f"{REAPPLY_KIND}:{token}:{after_id}")
