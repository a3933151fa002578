"""Routing writes that lose a lock race are run again.

Accepts, rejects and state changes lock seats, items and offers (in that order). On
PostgreSQL two group-committed batches of other processes can still hold locks taken in
different orders, and the database then aborts one of them as a deadlock victim; the
request is simply run again, instead of answering 500 to an agent who did nothing wrong.
"""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError

from kefu.db import Job

if TYPE_CHECKING:
    from kefu.runtime import Runtime

P = ParamSpec("P")
T = TypeVar("T")
ATTEMPTS = 4
TRANSIENT = {"40P01", "40001", "55P03"}  # deadlock, serialization failure, lock not available


def transient(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None)
    return code in TRANSIENT or "database is locked" in str(exc.orig)


async def write(runtime: Runtime, fn: Job[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await runtime.db.write(fn, *args, **kwargs)
        except DBAPIError as exc:
            if attempt == ATTEMPTS or not transient(exc):
                raise
            await asyncio.sleep(random.uniform(0.005, 0.02) * attempt)
    raise AssertionError("unreachable")
