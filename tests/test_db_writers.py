"""Several writer threads (PostgreSQL's default): every write is committed and answered once."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import text

from kefu.config import Settings
from kefu.db import Ctx, Database
from kefu.events import EventBus
from kefu.kit.time import FrozenClock


def _insert(ctx: Ctx, n: int) -> tuple[int, str]:
    ctx.session.execute(text("INSERT INTO bench_writers (n) VALUES (:n)"), {"n": n})
    ctx.emit("noted", n=n)
    return n, threading.current_thread().name


async def test_many_writers_commit_every_job_once(settings: Settings) -> None:
    db = Database(settings.model_copy(update={"db_writers": 3}), EventBus(), FrozenClock())
    with db.engine.begin() as connection:
        connection.execute(text("CREATE TABLE bench_writers (n INTEGER PRIMARY KEY)"))
    seen: list[int] = []
    db.bus.subscribe("noted", lambda e: seen.append(e.payload["n"]))
    db.start()
    try:
        results = await asyncio.gather(*(db.write(_insert, n) for n in range(200)))
        await asyncio.sleep(0)
        with db.engine.connect() as connection:
            stored = connection.execute(text("SELECT n FROM bench_writers ORDER BY n")).scalars()
            assert list(stored) == list(range(200))
        assert [n for n, _ in results] == list(range(200))
        assert sorted(seen) == list(range(200))
        threads = {name for _, name in results}
        expected = 1 if db.dialect == "sqlite" else 3
        assert len(threads) <= expected
        assert threads <= {f"kefu-write-{i}" for i in range(expected)}
    finally:
        db.close()
        with db.engine.begin() as connection:
            connection.execute(text("DROP TABLE bench_writers"))
        db.engine.dispose()
