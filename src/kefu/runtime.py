"""What one kefu process holds while it runs: settings, clock, event bus, database, caches."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from kefu.config import Settings
from kefu.db import Database
from kefu.events import EventBus
from kefu.kit.cache import TTLCache
from kefu.kit.time import Clock, SystemClock
from kefu.security.permissions import Principal
from kefu.worker.scheduler import Scheduler


@dataclass
class Runtime:
    settings: Settings
    db: Database
    bus: EventBus
    clock: Clock = field(default_factory=SystemClock)
    secret_key: str = ""
    # Checked credentials are trusted for a few seconds so a busy integration does not pay
    # a database round trip per request; changes in this process clear it at once.
    principals: TTLCache[str, Principal] = field(default_factory=lambda: TTLCache(5.0))
    scheduler: Scheduler = field(init=False)

    def __post_init__(self) -> None:
        self.scheduler = Scheduler(self)

    @classmethod
    def create(cls, settings: Settings, clock: Clock | None = None) -> Runtime:
        bus = EventBus()
        clock = clock or SystemClock()
        runtime = cls(settings=settings, db=Database(settings, bus, clock), bus=bus, clock=clock)
        runtime.principals = TTLCache(settings.token_cache_s)
        for pattern in ("token.revoked", "user.updated", "team.*", "user.logged_out"):
            bus.subscribe(pattern, runtime.principals.clear)
        _install_emit_hooks(runtime)
        return runtime


def _install_emit_hooks(runtime: Runtime) -> None:
    """Rules and webhooks write their rows in the transaction of each event, in every process
    that writes (server, worker, CLI), so none of them can commit a change without them."""
    from kefu.rules import hooks as rules_hooks
    from kefu.webhooks import service as webhooks

    rules_hooks.install(runtime.bus)
    webhooks.install(runtime.bus)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime
