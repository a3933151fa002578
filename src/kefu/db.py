"""Database access: typed model base, engines, and the unit of work.

Reads run on a small thread pool, each in its own short transaction. Writes go to one
writer thread per process that runs the queued jobs of many requests in one transaction
(group commit): on SQLite that keeps writers from queueing on the file lock and pays one
fsync for many tickets; on PostgreSQL it pays one commit round trip for many. A job that
fails is answered alone and the rest of its batch is run again without it, so one bad
request never costs another its write. Events a job emits are published only after its
transaction commits (see ``events.bus``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

import orjson
from sqlalchemy import JSON, DateTime, MetaData, Table, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from kefu.config import Settings
from kefu.events import Event, EventBus
from kefu.kit.time import Clock, SystemClock, as_utc

log = logging.getLogger(__name__)
CHECKPOINT_EVERY_S = 0.2  # SQLite: how often the WAL is copied into the database file
PING_AFTER_IDLE_S = 5.0  # PostgreSQL: a pooled connection idle this long is pinged first
LOCK_WAIT_S = 30.0  # SQLite: longest wait for the write lock another process holds
LOCK_POLL_S = 0.0005  # SQLite: how often a waiting writer tries the lock again
P = ParamSpec("P")
T = TypeVar("T")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def table_of(model: type[Base]) -> Table:
    """A model's Core table: hot-path statements built on it skip the ORM's per-call work."""
    return cast(Table, model.__table__)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC on every engine; always read back as an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)

    def result_processor(self, dialect: Any, coltype: Any) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _utc_from_sqlite
        return super().result_processor(dialect, coltype)


def _utc_from_sqlite(value: str | None) -> datetime | None:
    """SQLite keeps the naive UTC datetime as ISO text: parsed with "+00:00" appended it is
    one C call, 0.2 us where parsing and then ``replace(tzinfo=UTC)`` took 0.8 us (a page of
    50 tickets reads 255 of them)."""
    if value is None:
        return None
    read = datetime.fromisoformat(value + "+00:00")
    return read if read.tzinfo is not None else read.replace(tzinfo=UTC)  # a bare date


JSONType = JSON().with_variant(JSONB(), "postgresql")


@dataclass
class Ctx:
    """What a service sees of its unit of work: the session, the clock and its events."""

    session: Session
    clock: Clock
    settings: Settings
    events: list[Event] = field(default_factory=list)

    def emit(self, name: str, **payload: Any) -> None:
        event = Event(name, payload, self.clock.now())
        self.events.append(event)
        for hook in EMIT_HOOKS:
            hook(self, event)

    def now(self) -> datetime:
        return self.clock.now()


Job = Callable[Concatenate[Ctx, P], T]
# Called with each event as it is emitted, inside the unit of work: the rules queue and the
# webhook outbox write their rows in the same transaction as the change (docs/rules.md).
EMIT_HOOKS: list[Callable[[Ctx, Event], None]] = []


def add_emit_hook(hook: Callable[[Ctx, Event], None]) -> None:
    if hook not in EMIT_HOOKS:
        EMIT_HOOKS.append(hook)


def read_json(raw: str | bytes) -> Any:
    """JSON columns (custom fields, settings, payloads) as orjson reads them, several times
    faster than ``json`` on a page of tickets; what orjson refuses and ``json`` reads
    (integers beyond 64 bits, NaN) falls back to ``json``, so every stored value still reads."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def normalise_url(url: str) -> str:
    """Plain ``postgresql://`` URLs use psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, settings: Settings, *, writer: bool = False) -> Engine:
    url = normalise_url(url)
    if not is_sqlite(url):
        engine = create_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            json_deserializer=read_json,
        )
        _ping_when_idle(engine)
        return engine
    # isolation_level=None hands transaction control to SQLAlchemy, so BEGIN is ours to emit.
    engine = create_engine(
        url,
        connect_args={"isolation_level": None, "check_same_thread": False, "timeout": 30},
        json_deserializer=read_json,
        pool_size=settings.db_readers + 2,
        max_overflow=4,
    )
    # Writers take the lock up front (IMMEDIATE): a deferred transaction that reads and then
    # writes fails with SQLITE_BUSY when another process committed in between.

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            f"busy_timeout={int(LOCK_WAIT_S * 1000)}",
            "cache_size=-65536",
            "mmap_size=268435456",
            "temp_store=MEMORY",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        if writer:
            _begin_immediate(conn.connection.dbapi_connection)
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def _begin_immediate(dbapi_conn: Any) -> None:
    """Take SQLite's write lock, polling every half millisecond while another process holds
    it. SQLite's own busy handler sleeps 1, 2, 5 ... 100 ms between tries, and a holder with
    more work queued takes the lock straight back: with two processes writing, the lock sat
    idle while this writer slept (bench.email: p99 0.5-1 s; polled, 0.12-0.15 s)."""
    dbapi_conn.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                dbapi_conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    # As SQLAlchemy reports it (the writer retries database errors alone).
                    raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
                time.sleep(LOCK_POLL_S)
    finally:
        dbapi_conn.execute(f"PRAGMA busy_timeout={int(LOCK_WAIT_S * 1000)}")


def _ping_when_idle(engine: Engine) -> None:
    """A pooled connection that sat idle is pinged before use, and replaced if the server
    dropped it (a restart, an idle timeout). ``pool_pre_ping`` pings on *every* checkout:
    one round trip more per transaction, a tenth of a routing offer's. A connection used
    within the last seconds is handed out as it is; if it broke meanwhile, the statement
    fails once and SQLAlchemy invalidates the whole pool, so the next checkout connects."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE_S:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError("the pooled connection was dropped") from exc
        if not alive:
            raise DisconnectionError("the pooled connection was dropped")


@dataclass
class _WriteJob:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    future: asyncio.Future[Any] | None
    loop: asyncio.AbstractEventLoop | None
    result: Any = None
    error: BaseException | None = None
    events: list[Event] = field(default_factory=list)


class Database:
    """Engines plus the read pool and the group-commit writer of one process."""

    def __init__(self, settings: Settings, bus: EventBus, clock: Clock | None = None) -> None:
        self.settings = settings
        self.url = normalise_url(settings.resolved_database_url())
        self.bus = bus
        self.clock: Clock = clock or SystemClock()
        if is_sqlite(self.url):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(self.url, settings)
        self.write_engine = (
            make_engine(self.url, settings, writer=True) if is_sqlite(self.url) else self.engine
        )
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self.write_engine, expire_on_commit=False)
        self._readers = ThreadPoolExecutor(settings.db_readers, thread_name_prefix="kefu-read")
        self._queue: queue.SimpleQueue[_WriteJob | None] = queue.SimpleQueue()
        self._writers: list[threading.Thread] = []
        self._checkpointer: threading.Thread | None = None
        self._stop_checkpoints = threading.Event()
        self.frames_checkpointed = 0  # WAL frames the checkpoint thread has copied

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        # SQLite has one writer at a time anyway; PostgreSQL takes several transactions at
        # once, and one writer thread there spends most of its time waiting on round trips.
        count = 1 if is_sqlite(self.url) else max(1, self.settings.db_writers)
        if is_sqlite(self.url) and self._checkpointer is None:
            self._checkpoint_in_a_thread()
        while len(self._writers) < count:
            name = f"kefu-write-{len(self._writers)}"
            writer = threading.Thread(target=self._write_loop, name=name, daemon=True)
            writer.start()
            self._writers.append(writer)

    def close(self) -> None:
        for _ in self._writers:
            self._queue.put(None)  # each writer takes one and stops
        for writer in self._writers:
            writer.join(timeout=30)
        self._writers = []
        if self._checkpointer is not None:
            self._stop_checkpoints.set()
            self._checkpointer.join(timeout=30)
            self._checkpointer = None
        self._readers.shutdown(wait=True)
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()

    def _checkpoint_in_a_thread(self) -> None:
        """In WAL mode the commit that takes the log past 1,000 pages also copies it into
        the database file and syncs it: tens of milliseconds in which that batch, and every
        request queued behind it, waits (the p99 of creates and of routing offers). A
        started database moves that work to a thread of its own, which never blocks the
        writer (PASSIVE); processes that only call ``run_write`` keep SQLite's default."""

        @event.listens_for(self.write_engine, "connect")
        def _no_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")

        self.write_engine.dispose()  # pooled connections reopen with it
        self._stop_checkpoints.clear()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="kefu-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        connection = self.engine.raw_connection()
        try:
            while not self._stop_checkpoints.wait(CHECKPOINT_EVERY_S):
                try:
                    cursor = connection.cursor()
                    cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    row = cursor.fetchone()  # (busy, frames in the log, frames copied)
                    cursor.close()
                    self.frames_checkpointed += max(int(row[2]), 0) if row else 0
                except Exception:  # a locked or closing database: try again next time
                    log.debug("checkpoint skipped", exc_info=True)
        finally:
            connection.close()

    def ctx(self, session: Session) -> Ctx:
        return Ctx(session=session, clock=self.clock, settings=self.settings)

    # -- reads -----------------------------------------------------------------------------
    async def read(self, fn: Job[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, lambda: self.run_read(fn, *args, **kwargs))

    def run_read(self, fn: Job[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        # Closing the session rolls its transaction back (a rollback before it was a second
        # round of the same work, 15 us a read).
        with self._read_sessions() as session:
            return fn(self.ctx(session), *args, **kwargs)

    # -- writes ----------------------------------------------------------------------------
    async def write(self, fn: Job[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(ctx, ...)`` in the writer's next transaction and return its result."""
        if not self._writers:
            raise RuntimeError("Database.start() was not called")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_WriteJob(fn, args, kwargs, future, loop))
        return await future

    def run_write(self, fn: Job[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """The same in the calling thread, for the CLI, the worker and tests."""
        job = _WriteJob(fn, args, kwargs, None, None)
        self._commit_batch([job])
        self.bus.publish(job.events)
        if job.error is not None:
            raise job.error
        return job.result

    def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self.settings.db_write_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
            self._run_batch(batch)

    def _run_batch(self, batch: list[_WriteJob]) -> None:
        committed = batch
        try:
            committed = self._commit_batch(batch)
        except BaseException as exc:  # the writer must outlive any one batch
            log.exception("write batch failed")
            for job in batch:
                job.error = job.error or exc
        for job in committed:
            self.bus.publish(job.events)
        self._answer(batch)

    def _commit_batch(self, batch: list[_WriteJob]) -> list[_WriteJob]:
        """Commit every job that can be; return the jobs in the order they committed."""
        pending = list(batch)
        retries: list[_WriteJob] = []
        while pending:
            failed = self._try_transaction(pending)
            if failed is None:
                break
            pending.remove(failed)
            if isinstance(failed.error, DBAPIError) and len(batch) > 1:
                retries.append(failed)
        # A database error may be a race with another process: one lone retry each, after the
        # rest of the batch committed, so a job never overtakes one submitted before it.
        for failed in retries:
            retry = _WriteJob(failed.fn, failed.args, failed.kwargs, None, None)
            if self._try_transaction([retry]) is None:
                failed.error, failed.result, failed.events = None, retry.result, retry.events
                pending.append(failed)
        return pending

    def _try_transaction(self, jobs: list[_WriteJob]) -> _WriteJob | None:
        """Run all jobs in one transaction; on failure roll back and return the culprit."""
        with self._write_sessions() as session:
            for job in jobs:
                ctx = self.ctx(session)
                try:
                    job.result = job.fn(ctx, *job.args, **job.kwargs)
                    session.flush()
                except Exception as exc:
                    session.rollback()
                    job.error = exc
                    for other in jobs:
                        if other is not job:
                            other.events, other.result = [], None
                    return job
                job.events = ctx.events
            session.commit()
        return None

    def _answer(self, batch: list[_WriteJob]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_WriteJob]] = {}
        for job in batch:
            if job.loop is not None:
                by_loop.setdefault(job.loop, []).append(job)
        for loop, jobs in by_loop.items():
            if not loop.is_closed():
                loop.call_soon_threadsafe(_settle, jobs)


def _settle(jobs: list[_WriteJob]) -> None:
    for job in jobs:
        if job.future is None or job.future.done():
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.result)
