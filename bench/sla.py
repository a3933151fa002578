"""bench.sla: SLA breach detection on 1,000,000 open tickets with running clocks.

Builds a throw-away database (SQLite under a temporary directory; PostgreSQL too when
KEFU_BENCH_DATABASE_URL is set) with 10,000, then 100,000, then 1,000,000 open tickets,
each with a running first-response clock whose due time lies 1 to 31 days ahead (seeded).
Tickets and clocks are bulk-inserted with the models' own tables; the policy, its calendar
and the agents go through the services. A FrozenClock is then set so that exactly N clocks
are due, and one sweep (``sla.escalation.sweep`` in write transactions of 500, as the
worker runs it) fires them: marks them breached, writes the ticket history, notifies the
assignee and emits ``sla.breached``. The sweep reads the partial index on
``next_check_at``; a full scan for due clocks (what an hourly batch job does) is timed
beside it as the baseline.

    python -m bench.sla [--open N] [--repeats R] [--db sqlite|postgresql|all]

The last line is one JSON object: {"bench": "sla", "results": [{"db", "open", "due",
"sweep_ms", ...}, ...], "scan_ms": {...}}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import Connection, make_url

from kefu.accounts.models import User
from kefu.config import Settings
from kefu.customers.models import Customer
from kefu.db import normalise_url
from kefu.kit.time import FrozenClock
from kefu.migrate import upgrade
from kefu.runtime import Runtime
from kefu.sla import escalation, policies
from kefu.sla.models import SlaClock
from kefu.sla.schemas import PolicyIn
from kefu.tickets.models import Ticket

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
CHUNK = 20_000
AGENTS = 50
TARGET_S = 4 * 3600
DUE_CURVE = (0, 1, 10, 100, 1_000, 10_000)
STEP_DUE = 100
PG_NAME = "kefu_bench_sla"


@dataclass
class Bed:
    """The database under test, its runtime and the due times still ahead, in order."""

    db: str
    url: str
    runtime: Runtime
    clock: FrozenClock
    rng: random.Random
    dues: array[float] = field(default_factory=lambda: array("d"))  # timestamps: no GC cost
    fired: int = 0
    open: int = 0
    agents: list[int] = field(default_factory=list)
    policy_id: int = 0


# -- building ------------------------------------------------------------------------------
def setup(db: str, url: str, workdir: Path) -> Bed:
    settings = Settings(data_dir=workdir, database_url=url, secret_key="bench")
    clock = FrozenClock(T0)
    runtime = Runtime.create(settings, clock)
    upgrade(runtime.db.engine)
    bed = Bed(db, url, runtime, clock, random.Random(6))
    policy = PolicyIn.model_validate(
        {
            "name": "Bench",
            "targets": {"first_response": TARGET_S},
            "warning": "10m",
            "on_breach": {"notify": ["assignee"]},
        }
    )
    bed.policy_id = runtime.db.run_write(policies.create_policy, None, policy).id
    with runtime.db.write_engine.begin() as connection:
        connection.execute(insert(Customer), [_customer()])
        connection.execute(insert(User), [_agent(i) for i in range(AGENTS)])
        bed.agents = list(connection.execute(text("SELECT id FROM users")).scalars())
    return bed


def grow(bed: Bed, total: int) -> None:
    """Add open tickets, each with a running clock due 1 to 31 days after now."""
    now = bed.clock.now()
    first = bed.open + 1
    new_dues: list[float] = []
    for start in range(first, total + 1, CHUNK):
        ids = range(start, min(start + CHUNK, total + 1))
        tickets, clocks = [], []
        for ticket_id in ids:
            due = now + timedelta(days=1, seconds=bed.rng.randrange(30 * 86_400 * 1000) / 1000)
            new_dues.append(due.timestamp())
            tickets.append(_ticket(ticket_id, bed.rng.choice(bed.agents), now))
            clocks.append(_clock(ticket_id, bed.policy_id, now, due))
        with bed.runtime.db.write_engine.begin() as connection:
            connection.execute(insert(Ticket), tickets)
            connection.execute(insert(SlaClock), clocks)
    bed.dues = array("d", sorted([*bed.dues[bed.fired :], *new_dues]))
    bed.fired = 0
    bed.open = total
    _analyse(bed)


def _customer() -> dict[str, Any]:
    return {
        "id": 1,
        "name": "Bench customer",
        "tier": "standard",
        "notes": "",
        "attributes": {},
        "first_seen_at": T0,
        "created_at": T0,
        "updated_at": T0,
    }


def _agent(n: int) -> dict[str, Any]:
    return {
        "email": f"agent{n}@sla.bench",
        "name": f"Agent {n}",
        "role": "agent",
        "password_hash": None,
        "language": "en",
        "time_zone": "UTC",
        "is_active": True,
        "failed_logins": 0,
        "created_at": T0,
        "updated_at": T0,
    }


def _ticket(ticket_id: int, assignee_id: int, now: datetime) -> dict[str, Any]:
    return {
        "id": ticket_id,
        "subject": f"Order {ticket_id} has not arrived",
        "status": "open",
        "priority": 1,
        "channel": "email",
        "requester_id": 1,
        "assignee_id": assignee_id,
        "custom_fields": {},
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def _clock(ticket_id: int, policy_id: int, now: datetime, due: datetime) -> dict[str, Any]:
    # Past its warning already, so each firing is the breach and its escalation.
    return {
        "ticket_id": ticket_id,
        "policy_id": policy_id,
        "metric": "first_response",
        "status": "warning",
        "target_s": TARGET_S,
        "elapsed_s": 0.0,
        "started_at": now,
        "running_since": due - timedelta(seconds=TARGET_S),
        "warn_at": due - timedelta(minutes=10),
        "warned_at": due - timedelta(minutes=10),
        "due_at": due,
        "next_check_at": due,
        "updated_at": now,
    }


def _analyse(bed: Bed) -> None:
    with bed.runtime.db.engine.connect() as connection:
        if bed.db == "sqlite":
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
        else:
            auto = connection.execution_options(isolation_level="AUTOCOMMIT")
            auto.exec_driver_sql("VACUUM ANALYZE sla_clocks")
            auto.exec_driver_sql("VACUUM ANALYZE tickets")


# -- measuring -----------------------------------------------------------------------------
def sweep_ms(bed: Bed, due: int) -> tuple[float, float]:
    """Set the clock so that exactly ``due`` clocks are due, and time one full sweep:
    (wall ms, CPU ms of this thread, which runs SQLite too)."""
    if due:
        bed.clock.set(datetime.fromtimestamp(bed.dues[bed.fired + due - 1], UTC))
    cpu = time.thread_time()
    started = time.perf_counter()
    fired = 0
    while True:
        result = bed.runtime.db.run_write(escalation.sweep)
        fired += result.breached + result.warned
        if not result.more:
            break
    elapsed = (time.perf_counter() - started) * 1000
    cpu_ms = (time.thread_time() - cpu) * 1000
    if fired != due:
        raise AssertionError(f"expected {due} breaches, the sweep fired {fired}")
    bed.fired += due
    return elapsed, cpu_ms


def scan_ms(bed: Bed) -> float:
    """The baseline: find due clocks by scanning every open clock's due time."""
    sql = text(
        "SELECT count(*) FROM sla_clocks WHERE due_at <= :now"
        " AND breached_at IS NULL AND stopped_at IS NULL"
    )
    started = time.perf_counter()
    with bed.runtime.db.engine.connect() as connection:
        connection.execute(sql, {"now": bed.clock.now().replace(tzinfo=None)}).scalar_one()
    return (time.perf_counter() - started) * 1000


def measure(bed: Bed, due: int, repeats: int) -> dict[str, Any]:
    runs = [sweep_ms(bed, due) for _ in range(repeats)]
    wall = statistics.median(w for w, _ in runs)
    cpu = statistics.median(c for _, c in runs)
    return {
        "db": bed.db,
        "open": bed.open,
        "due": due,
        "sweep_ms": round(wall, 2),
        "cpu_ms": round(cpu, 2),
        "max_ms": round(max(w for w, _ in runs), 2),
        "cpu_per_due_ms": round(cpu / due, 3) if due else None,
    }


def run(db: str, url: str, workdir: Path, total: int, repeats: int) -> dict[str, Any]:
    bed = setup(db, url, workdir)
    results: list[dict[str, Any]] = []
    scans: dict[str, float] = {}
    try:
        sweep_ms(bed, 0)  # compile the policy set, warm the caches
        for size in sorted({min(total, s) for s in (10_000, 100_000, total)}):
            started = time.monotonic()
            grow(bed, size)
            print(f"[{db}] {size:,} open tickets loaded in {time.monotonic() - started:.0f} s")
            scans[str(size)] = round(statistics.median(scan_ms(bed) for _ in range(3)), 2)
            sweep_ms(bed, 5)  # warm the pages this size touches; not counted
            curve = DUE_CURVE if size == total else (0, STEP_DUE)
            for due in curve:
                if bed.fired + due * repeats > len(bed.dues):
                    continue
                results.append(measure(bed, due, repeats if due <= 1_000 else 1))
                row = results[-1]
                print(
                    f"  open {size:>9,}  due {due:>6,}  sweep {row['sweep_ms']:>8.2f} ms"
                    f"  cpu {row['cpu_ms']:>8.2f} ms  worst {row['max_ms']:>8.2f} ms"
                )
    finally:
        bed.runtime.db.close()
    return {"results": results, "scan_ms": scans}


# -- databases -----------------------------------------------------------------------------
@contextmanager
def pg_database(base: str) -> Iterator[str]:
    url = make_url(normalise_url(base))
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def execute(sql: str) -> None:
        connection: Connection
        with admin.connect() as connection:
            connection.exec_driver_sql(sql)

    execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
    execute(f'CREATE DATABASE "{PG_NAME}"')
    try:
        yield url.set(database=PG_NAME).render_as_string(hide_password=False)
    finally:
        execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
        admin.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open", type=int, default=1_000_000, help="Open tickets at the end")
    parser.add_argument("--repeats", type=int, default=5, help="Sweeps per point (median)")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "all"], default="all")
    args = parser.parse_args(argv)
    pg_url = os.environ.get("KEFU_BENCH_DATABASE_URL")
    figures: dict[str, Any] = {"bench": "sla", "results": [], "scan_ms": {}}
    if args.db in ("sqlite", "all"):
        with tempfile.TemporaryDirectory(prefix="kefu-bench-sla-") as tmp:
            found = run("sqlite", f"sqlite:///{tmp}/kefu.db", Path(tmp), args.open, args.repeats)
        figures["results"] += found["results"]
        figures["scan_ms"]["sqlite"] = found["scan_ms"]
    if args.db in ("postgresql", "all") and pg_url:
        with pg_database(pg_url) as url, tempfile.TemporaryDirectory() as tmp:
            found = run("postgresql", url, Path(tmp), args.open, args.repeats)
        figures["results"] += found["results"]
        figures["scan_ms"]["postgresql"] = found["scan_ms"]
    elif args.db == "postgresql":
        sys.exit("set KEFU_BENCH_DATABASE_URL to a PostgreSQL server")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
