"""Wiring of webhooks into a process: the in-transaction event hook, the outbox handler
that delivers, and the log's reaction when the outbox gives up."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kefu.outbox import tasks as outbox_tasks
from kefu.webhooks import delivery, service

if TYPE_CHECKING:
    from kefu.runtime import Runtime


def register(runtime: Runtime) -> None:
    outbox_tasks.register(service.DELIVER_KIND, delivery.deliver)
    runtime.bus.subscribe("outbox.dead", delivery.on_outbox_dead(runtime))
