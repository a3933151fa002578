"""A small in-process cache whose entries expire after a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

from sqlalchemy.orm import Session

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl_s, value)

    def drop(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self, *_: Any) -> None:
        self._entries.clear()


def per_transaction(
    session: Session, key: str, recent: TTLCache[str, V], load: Callable[[], V]
) -> V:
    """A value read at most once per transaction (kept in ``session.info`` under ``key``)
    and, across transactions, at most once per ``recent``'s time-to-live per database."""
    found = session.info.get(key)
    if found is None:
        database = str(session.get_bind().engine.url)
        found = recent.get(database)
        if found is None:
            with session.no_autoflush:  # called from inside other services' work
                found = load()
            recent.put(database, found)
        session.info[key] = found
    return cast(V, found)
