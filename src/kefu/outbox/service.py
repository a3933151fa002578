"""Enqueue in the same transaction as the change; deliver after it commits, with retries.

``enqueue`` is called by a service inside its unit of work, so the item exists if and only
if the change committed. The worker task ``outbox.deliver`` (see tasks.py) claims due items
and calls the handler registered for their kind; success marks them sent, an exception
schedules a retry with exponential back-off, and after ``max_attempts`` the item is dead
(kept for the delivery log, never silently dropped).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from kefu.db import Ctx
from kefu.kit.errors import NotFound
from kefu.outbox import repository as repo
from kefu.outbox.models import OutboxItem, OutboxStatus

BASE_DELAY_S = 5.0
MAX_DELAY_S = 6 * 3600.0
CLAIM_S = 120.0  # an attempt that has not reported back by then is tried again


class PermanentFailure(Exception):
    """A handler raises it when retrying cannot help: the item is dead at once."""


def enqueue(
    ctx: Ctx,
    kind: str,
    payload: dict[str, Any],
    *,
    key: str | None = None,
    max_attempts: int = 8,
    delay_s: float = 0.0,
) -> int:
    """Queue work; with a ``key``, the same work is queued once however often it is asked."""
    if key is not None:
        existing = repo.id_for_key(ctx.session, key)
        if existing is not None:
            return existing
    now = ctx.now()
    item_id = repo.insert_item(
        ctx.session,
        {
            "kind": kind,
            "key": key,
            "payload": payload,
            "status": OutboxStatus.queued,
            "attempts": 0,
            "max_attempts": max_attempts,
            "next_attempt_at": now + timedelta(seconds=delay_s),
            "created_at": now,
            "updated_at": now,
        },
    )
    ctx.emit("outbox.enqueued", item_id=item_id, kind=kind)
    return item_id


def item_for_key(ctx: Ctx, key: str) -> int | None:
    return repo.id_for_key(ctx.session, key)


def forget_keys(ctx: Ctx, keys: Sequence[str]) -> None:
    """The rows these keys name are gone (a deleted ticket's messages): their items keep
    their history (and a send in flight its row) but no longer hold the keys, so a row that
    takes a reused id (SQLite reuses the highest) is queued afresh instead of matching the
    old key and never being sent."""
    repo.release_keys(ctx.session, keys)


def claim_due(
    ctx: Ctx, kinds: Sequence[str], limit: int = 50
) -> list[tuple[int, str, dict[str, Any], int]]:
    """(id, kind, payload, attempt number) of due items, each claimed for one attempt."""
    now = ctx.now()
    until = now + timedelta(seconds=CLAIM_S)
    claimed = []
    for item_id, kind, payload, attempts in repo.due(ctx.session, now, kinds, limit):
        if repo.claim(ctx.session, item_id, attempts, until, now):
            claimed.append((item_id, kind, dict(payload), attempts + 1))
    return claimed


def _item(ctx: Ctx, item_id: int) -> OutboxItem:
    item = repo.get(ctx.session, item_id)
    if item is None:
        raise NotFound("Outbox item", item_id)
    return item


@dataclass(frozen=True)
class Delivered:
    """What a handler may return instead of a plain result: ``record(ctx)`` writes what the
    delivery produced (the vendor's message id, a status) in the transaction that marks the
    item sent, so the two commit together in one write instead of two."""

    result: dict[str, Any] | None
    record: Callable[[Ctx], None]


def complete(ctx: Ctx, item_id: int, delivered: Delivered) -> None:
    delivered.record(ctx)
    mark_sent(ctx, item_id, delivered.result)


def mark_sent(ctx: Ctx, item_id: int, result: dict[str, Any] | None = None) -> None:
    marked = repo.mark_sent(ctx.session, item_id, result, ctx.now())  # one statement
    if marked is None:
        raise NotFound("Outbox item", item_id)
    kind, payload = marked
    ctx.emit("outbox.sent", item_id=item_id, kind=kind, payload=payload)


def mark_failed(ctx: Ctx, item_id: int, error: str, permanent: bool = False) -> str:
    """Schedule the next attempt, or give up; returns the new status."""
    item = _item(ctx, item_id)
    now = ctx.now()
    item.last_error, item.updated_at = error[:2000], now
    if permanent or item.attempts >= item.max_attempts:
        item.status = OutboxStatus.dead
        ctx.emit(
            "outbox.dead", item_id=item.id, kind=item.kind, payload=item.payload, error=error[:500]
        )
    else:
        item.status = OutboxStatus.failed
        item.next_attempt_at = now + timedelta(seconds=backoff_s(item.attempts))
    return item.status


def backoff_s(attempts: int) -> float:
    """5 s, 10 s, 20 s, ... capped at 6 h, with ±20 % jitter so retries do not stampede."""
    delay = min(BASE_DELAY_S * 2 ** max(attempts - 1, 0), MAX_DELAY_S)
    return delay * random.uniform(0.8, 1.2)


def retry_now(ctx: Ctx, item_id: int) -> None:
    """An admin's "retry": a dead or failed item gets a fresh round of attempts."""
    item = _item(ctx, item_id)
    item.status, item.attempts, item.next_attempt_at = OutboxStatus.queued, 0, ctx.now()
    item.updated_at = ctx.now()
    ctx.emit("outbox.enqueued", item_id=item.id, kind=item.kind)
