"""The unit of work: group commit, one failing job costing no other its write, events only
after commit and in commit order."""

from __future__ import annotations

import asyncio
import math
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.pool import NullPool

from kefu.config import Settings
from kefu.db import Ctx, Database, JSONType, UTCDateTime, _WriteJob, read_json
from kefu.events import Event, EventBus
from kefu.kit.errors import Conflict
from kefu.kit.time import FrozenClock


def add_note(ctx: Ctx, name: str) -> str:
    """A write: one row in a scratch table, and one event."""
    ctx.session.execute(text("INSERT INTO scratch(name) VALUES (:n)"), {"n": name})
    ctx.emit("scratch.added", note=name)
    return name


def add_then_fail(ctx: Ctx, name: str, error: BaseException) -> None:
    add_note(ctx, name)
    raise error


def names(db: Database) -> list[str]:
    def read(ctx: Ctx) -> list[str]:
        return list(ctx.session.execute(text("SELECT name FROM scratch ORDER BY id")).scalars())

    return db.run_read(read)


@pytest_asyncio.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    bus = EventBus()
    bus.attach(asyncio.get_running_loop())
    database = Database(settings, bus, FrozenClock())
    with database.write_engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS scratch"))
        key = "INTEGER PRIMARY KEY" if database.dialect == "sqlite" else "SERIAL PRIMARY KEY"
        connection.execute(text(f"CREATE TABLE scratch (id {key}, name VARCHAR(50) UNIQUE)"))
    database.start()
    yield database
    await bus.drain()
    with database.write_engine.begin() as connection:
        connection.execute(text("DROP TABLE scratch"))
    database.close()


def record(bus: EventBus) -> list[str]:
    seen: list[str] = []
    bus.subscribe("*", lambda e: seen.append(e.payload["note"]))
    return seen


def hold_the_writer(db: Database) -> threading.Event:
    """Queue a job that blocks the writer until released, so the next jobs form one batch."""
    release = threading.Event()

    def wait(ctx: Ctx) -> None:
        release.wait(10)

    db._queue.put(_WriteJob(wait, (), {}, None, None))
    return release


async def submit(db: Database, *jobs: tuple[Any, ...]) -> list[Any]:
    release = hold_the_writer(db)
    tasks = [asyncio.ensure_future(db.write(*job)) for job in jobs]
    await asyncio.sleep(0.05)  # every job is in the queue behind the held one
    release.set()
    return await asyncio.gather(*tasks, return_exceptions=True)


async def test_group_commit_answers_everyone(db: Database) -> None:
    seen = record(db.bus)
    results = await submit(db, *[(add_note, f"n{i}") for i in range(20)])
    assert results == [f"n{i}" for i in range(20)]
    assert names(db) == [f"n{i}" for i in range(20)]
    await asyncio.sleep(0)
    assert seen == [f"n{i}" for i in range(20)], "events follow commit order"


async def test_one_failing_job_costs_no_other_its_write(db: Database) -> None:
    seen = record(db.bus)
    results = await submit(
        db,
        (add_note, "a"),
        (add_then_fail, "bad", Conflict("no")),
        (add_note, "b"),
        (add_then_fail, "worse", ValueError("bug")),
        (add_note, "c"),
    )
    assert results[0::2] == ["a", "b", "c"]
    assert isinstance(results[1], Conflict)
    assert isinstance(results[3], ValueError)
    assert names(db) == ["a", "b", "c"]
    await asyncio.sleep(0)
    assert seen == ["a", "b", "c"], "a failed job publishes nothing"


async def test_a_database_error_in_a_batch(db: Database) -> None:
    """Two jobs write the same unique name: the one submitted first wins, even though the
    loser gets a lone retry."""
    seen = record(db.bus)
    results = await submit(db, (add_note, "same"), (add_note, "same"), (add_note, "other"))
    assert results[0] == "same" and results[2] == "other"
    assert isinstance(results[1], IntegrityError)
    assert names(db) == ["same", "other"]
    await asyncio.sleep(0)
    assert seen == ["same", "other"]


async def test_a_database_error_gets_one_lone_retry(db: Database) -> None:
    """A job that hit a database error inside a batch (a race with another process, say) is
    tried once more alone before it is answered with the error."""
    attempts: list[int] = []

    def flaky(ctx: Ctx) -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise OperationalError("UPDATE ...", {}, Exception("database is locked"))
        return add_note(ctx, "flaky")

    seen = record(db.bus)
    results = await submit(db, (flaky,), (add_note, "x"))
    assert results == ["flaky", "x"]
    assert len(attempts) == 2
    assert names(db) == ["x", "flaky"], "the retry commits after the rest of its batch"
    await asyncio.sleep(0)
    assert seen == ["x", "flaky"], "events follow the order of the commits"


async def test_events_wait_for_the_commit(db: Database) -> None:
    delivered: list[Event] = []
    db.bus.subscribe("*", delivered.append)
    during: list[int] = []

    def look(ctx: Ctx) -> None:
        add_note(ctx, "first")
        during.append(len(delivered))
        add_note(ctx, "second")
        during.append(len(delivered))

    await db.write(look)
    await asyncio.sleep(0)
    assert during == [0, 0]
    assert [e.payload["note"] for e in delivered] == ["first", "second"]
    assert all(e.origin == "local" for e in delivered)


async def test_a_rolled_back_job_publishes_nothing(db: Database) -> None:
    delivered: list[Event] = []
    db.bus.subscribe("*", delivered.append)
    with pytest.raises(RuntimeError):
        await db.write(add_then_fail, "gone", RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        db.run_write(add_then_fail, "gone too", RuntimeError("boom"))
    await asyncio.sleep(0)
    assert delivered == []
    assert names(db) == []


async def test_reads_never_write(db: Database) -> None:
    def sneaky(ctx: Ctx) -> None:
        add_note(ctx, "sneaky")

    await db.read(sneaky)
    assert names(db) == []


async def test_write_needs_start(settings: Settings) -> None:
    database = Database(settings, EventBus())
    with pytest.raises(RuntimeError, match="start"):
        await database.write(add_note, "x")
    database.close()


def test_sqlite_datetimes_read_back_as_aware_utc(tmp_path: Any) -> None:
    """UTCDateTime parses SQLite's text itself (faster than parse-then-replace): every form
    kefu or an older version may have stored reads back as the same aware UTC datetime."""
    engine = create_engine(f"sqlite:///{tmp_path / 'dates.db'}")
    table = Table("dates", MetaData(), Column("at", UTCDateTime()))
    table.create(engine)
    stored = ["2026-01-05 09:00:00.123456", "2026-01-05 09:00:00", "2026-01-05"]
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO dates(at) VALUES (:v)"), [{"v": v} for v in stored])
        connection.execute(table.insert(), [{"at": None}, {"at": datetime(2026, 1, 5, 17, 0)}])
        read = connection.execute(select(table.c.at)).scalars().all()
    assert read == [
        datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        datetime(2026, 1, 5, 0, 0, tzinfo=UTC),
        None,
        datetime(2026, 1, 5, 17, 0, tzinfo=UTC),
    ]
    assert all(at is None or at.tzinfo is UTC for at in read)


async def test_a_started_sqlite_database_checkpoints_in_its_own_thread(db: Database) -> None:
    """Commits never copy the WAL into the database file (a stall for the batch and all
    queued behind it); the checkpoint thread does, and the writes are all kept."""
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL has no WAL checkpoints of ours")

    def autocheckpoint(ctx: Ctx) -> int:
        return int(ctx.session.execute(text("PRAGMA wal_autocheckpoint")).scalar_one())

    def checkpoint_threads() -> int:
        return sum(t.name == "kefu-checkpoint" for t in threading.enumerate())

    assert await db.write(autocheckpoint) == 0
    assert checkpoint_threads() >= 1
    await asyncio.gather(*(db.write(add_note, f"n{i}") for i in range(300)))
    for _ in range(50):  # the thread copies the log within a round or two of 0.2 s
        await asyncio.sleep(0.1)
        if db.frames_checkpointed:
            break
    assert db.frames_checkpointed > 0
    assert len(names(db)) == 300
    running = checkpoint_threads()
    db.close()
    assert checkpoint_threads() == running - 1


def _backend_pid(db: Database) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _drop_pooled_connections(db: Database) -> None:
    """What a PostgreSQL restart or an idle timeout does to the pool's connections."""
    with create_engine(db.url, poolclass=NullPool).connect() as admin:
        admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )


@pytest.mark.parametrize("idle_enough", [True, False])
async def test_a_dropped_idle_postgresql_connection_is_replaced_before_use(
    db: Database, monkeypatch: pytest.MonkeyPatch, idle_enough: bool
) -> None:
    """Only connections idle for a while are pinged (one round trip less per transaction);
    one the server dropped meanwhile is replaced, not handed to a request."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite has no server to drop connections")
    monkeypatch.setattr("kefu.db.PING_AFTER_IDLE_S", 0.0 if idle_enough else 3600.0)
    first = _backend_pid(db)
    _drop_pooled_connections(db)
    if idle_enough:
        assert _backend_pid(db) != first  # pinged, found dead, replaced
    else:
        with pytest.raises(OperationalError):  # recently used: not pinged, fails once
            _backend_pid(db)
        assert _backend_pid(db) != first  # and the pool was invalidated


def test_json_columns_read_every_value_json_wrote(db: Database) -> None:
    """orjson reads JSON columns; what it refuses (integers beyond 64 bits, NaN) still reads."""
    table = Table("json_scratch", MetaData(), Column("id", Integer, primary_key=True))
    table.append_column(Column("value", JSONType))
    stored = {"big": 2**70, "text": "退款 refund", "list": [1, 2.5, None]}
    if db.dialect == "sqlite":
        stored["nan"] = float("nan")  # PostgreSQL refuses NaN in JSON
    table.create(db.engine)
    try:
        with db.engine.begin() as connection:
            connection.execute(
                table.insert(), [{"id": 1, "value": stored}, {"id": 2, "value": [1]}]
            )
        with db.engine.connect() as connection:
            rows = dict(connection.execute(select(table.c.id, table.c.value)).all())
    finally:
        table.drop(db.engine)
    assert rows[2] == [1]
    assert rows[1]["big"] == 2**70
    assert db.dialect != "sqlite" or math.isnan(rows[1]["nan"])
    assert rows[1]["text"] == "退款 refund" and rows[1]["list"] == [1, 2.5, None]
    assert read_json(b'{"a": [1, "x"]}') == {"a": [1, "x"]}  # the fast path
    assert db.engine.dialect._json_deserializer is read_json


def _hold_write_lock(path: str, seconds: float, taken: threading.Event) -> None:
    """Another process's writer: SQLite's write lock held for a while, then released."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        taken.set()
        time.sleep(seconds)
        other.execute("COMMIT")
    finally:
        other.close()


@pytest.mark.parametrize("gives_up", [False, True])
async def test_a_sqlite_writer_waits_for_another_process_lock(
    db: Database, monkeypatch: pytest.MonkeyPatch, gives_up: bool
) -> None:
    """While another process holds the write lock the writer keeps trying (every half
    millisecond, not SQLite's sleeps of up to 100 ms) and writes once it is free; it gives
    up with SQLite's own error only after ``LOCK_WAIT_S``."""
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL has row locks, not one write lock")
    monkeypatch.setattr("kefu.db.LOCK_WAIT_S", 0.05 if gives_up else 30.0)
    taken = threading.Event()
    holder = threading.Thread(
        target=_hold_write_lock, args=(db.engine.url.database, 0.4, taken), daemon=True
    )
    holder.start()
    assert taken.wait(10)
    try:
        if gives_up:
            with pytest.raises(OperationalError, match="locked"):
                await db.write(add_note, "late")
        else:
            assert await db.write(add_note, "waited") == "waited"
    finally:
        holder.join(10)
    assert names(db) == ([] if gives_up else ["waited"])

    def busy_timeout(ctx: Ctx) -> int:
        return int(ctx.session.execute(text("PRAGMA busy_timeout")).scalar_one())

    assert await db.write(busy_timeout) == (50 if gives_up else 30_000)  # set back after BEGIN
