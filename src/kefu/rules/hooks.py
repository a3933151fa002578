"""Where rules hear about changes: ``Ctx.emit`` calls ``on_emit`` inside the unit of work
that made the change, so an event some enabled rule listens to is written to the
``rule_events`` queue in the same transaction. The worker runs the rules on it and deletes
it in one later transaction: if kefu dies after the change committed, the event waits in
the table and runs after the restart; a rollback leaves no event behind.

While a rule applies its actions, ``CYCLE`` says which rules led there; the events those
actions raise carry that chain, so no rule fires again on its own change and a chain of
rules firing on each other stops at ``catalogue.MAX_DEPTH``.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from pydantic_core import to_jsonable_python

from kefu.db import Ctx, add_emit_hook
from kefu.events import Event, EventBus
from kefu.rules import catalogue as cat
from kefu.rules import engine
from kefu.rules import repository as repo


@dataclass(frozen=True)
class Cycle:
    depth: int
    chain: tuple[int, ...]


CYCLE: ContextVar[Cycle | None] = ContextVar("rules_cycle", default=None)
# Changes to what rules may name make the compiled rules stale.
REFERENCED = ("team.", "user.created", "user.updated", "field.", "calendar.", "routing.queue.")
REFERENCED_EXACT = frozenset(
    {"webhook_endpoint.created", "webhook_endpoint.updated", "webhook_endpoint.deleted"}
)


def install(bus: EventBus) -> None:
    """The hook, and forgetting the cached rule set once a change it depends on committed
    (here or, through the Redis fan-out, in another process)."""
    add_emit_hook(on_emit)
    for pattern in ("rule.*", "team.*", "user.created", "user.updated", "field.*", "calendar.*"):
        bus.subscribe(pattern, engine.RECENT.clear)
    for pattern in ("routing.queue.*", "webhook_endpoint.*"):
        bus.subscribe(pattern, engine.RECENT.clear)


def on_emit(ctx: Ctx, event: Event) -> None:
    name = event.name
    if name in cat.EVENTS:
        _queue(ctx, event)
    elif _referenced(name) and repo.config_token(ctx.session) is not None:
        engine.changed(ctx)


def _referenced(name: str) -> bool:
    return name.startswith(REFERENCED) or name in REFERENCED_EXACT


def _queue(ctx: Ctx, event: Event) -> None:
    if not engine.session_rule_set(ctx).listens(event.name):
        return
    cycle = CYCLE.get()
    repo.enqueue_event(
        ctx.session,
        {
            "name": event.name,
            "payload": _jsonable(event.payload),
            "occurred_at": event.occurred_at,
            "depth": cycle.depth if cycle else 0,
            "chain": list(cycle.chain) if cycle else [],
            "attempts": 0,
            "next_attempt_at": event.occurred_at - timedelta(seconds=1),
            "dead": False,
        },
    )


def _jsonable(payload: dict[str, object]) -> dict[str, object]:
    value = to_jsonable_python(payload, fallback=str)
    assert isinstance(value, dict)
    return value
