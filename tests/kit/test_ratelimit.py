from __future__ import annotations

import pytest

from kefu.kit.errors import TooManyRequests
from kefu.kit.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sliding_window_per_key() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 60, clock=clock)
    limiter.hit("a")
    clock.now += 30
    limiter.hit("a")
    limiter.hit("b")  # another key has its own budget
    with pytest.raises(TooManyRequests) as refused:
        limiter.hit("a")
    assert refused.value.retry_after_s == 30
    assert refused.value.status == 429
    clock.now += 30  # the first hit left the window
    limiter.hit("a")
    assert limiter.remaining("a") == 0 and limiter.remaining("c") == 2


def test_idle_keys_are_forgotten_when_full() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 10, clock=clock, max_keys=2)
    limiter.hit("a")
    limiter.hit("b")
    clock.now += 11
    limiter.hit("c")
    assert set(limiter._hits) == {"c"}


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0, 10)
