"""Per-key rate limits in one process (sliding window): a web form per client IP, a login
per account, an API per token. ``hit`` raises ``TooManyRequests`` (429 with Retry-After)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from kefu.kit.errors import TooManyRequests


class RateLimiter:
    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("a rate limit needs limit >= 1 and a positive window")
        self.limit, self.window_s, self.clock, self.max_keys = limit, window_s, clock, max_keys
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str, what: str = "requests") -> None:
        """Count one use of ``key``; over the limit it is refused and not counted."""
        now = self.clock()
        hits = self._recent(key, now)
        if len(hits) >= self.limit:
            retry = max(1, math.ceil(hits[0] + self.window_s - now))
            raise TooManyRequests(
                f"Too many {what}: at most {self.limit} in {self._window()}; "
                f"try again in {retry} s",
                retry,
            )
        hits.append(now)

    def remaining(self, key: str) -> int:
        return self.limit - len(self._recent(key, self.clock()))

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.max_keys:
                self._forget_idle(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        return hits

    def _forget_idle(self, now: float) -> None:
        idle = [k for k, h in self._hits.items() if not h or h[-1] <= now - self.window_s]
        for key in idle or list(self._hits):  # all busy: start over rather than grow
            del self._hits[key]

    def _window(self) -> str:
        minutes, seconds = divmod(int(self.window_s), 60)
        return f"{minutes} min" if minutes and not seconds else f"{int(self.window_s)} s"
