"""bench.api: ticket create and list through the real server, under wrk at concurrency 32.

Starts ``kefu serve`` (uvicorn, uvloop + httptools) on loopback over a copy of a cached store
of 1,000,000 tickets (``bench/dataset.py``), then measures with Debian's ``wrk``:
- list: ``GET /api/v1/tickets?limit=50&status=open&sort=-created_at`` as a support agent
  (so the private-team visibility rule applies), and a mix of other filtered, sorted lists;
- create: ``POST /api/v1/tickets`` with varied requesters (most already known, some new).
Server CPU per request is read from /proc/<pid>/stat around each run. Runs on SQLite, and on
PostgreSQL too when KEFU_BENCH_DATABASE_URL is set. The last line is one JSON object.

    python -m bench.api [--tickets N] [--duration S] [--db sqlite|postgresql|all]
                        [--cases list,create] [--workers N]

``--cases list`` runs only the list cases; ``--workers N`` serves with N processes
(``KEFU_WORKERS``), their CPU summed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench import dataset
from bench.dataset import Store
from kefu import prepared
from kefu.accounts import service as accounts
from kefu.config import Settings
from kefu.runtime import Runtime
from kefu.tickets.repository import TicketFilter
from kefu.tickets.service import list_tickets

WRK = Path(__file__).parent / "wrk"
CLK_TCK = os.sysconf("SC_CLK_TCK")
LIST_PATH = "/api/v1/tickets?limit=50&status=open&sort=-created_at"
LIST_MIX = [
    LIST_PATH,
    "/api/v1/tickets?limit=50&status=open,pending&sort=-updated_at",
    "/api/v1/tickets?limit=50&status=new,open&priority=high,urgent&sort=-created_at",
    "/api/v1/tickets?limit=50&assignee_id=me&status=open,pending&sort=-updated_at",
    "/api/v1/tickets?limit=50&tag=refund&sort=-created_at",
]


@dataclass
class Run:
    """One wrk run: its own figures and the server's CPU over it."""

    name: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu_s: float
    db_cpu_s: float
    wrk_cpu_s: float
    other_cpu_s: float

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.server_cpu_s / max(1, self.requests)

    @property
    def db_cpu_ms(self) -> float:
        return 1000 * self.db_cpu_s / max(1, self.requests)


# -- CPU accounting ------------------------------------------------------------------------
def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime, every thread


def postgres_cpu_s() -> float:
    """All PostgreSQL server processes on this machine (other users' work included)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == "postgres":
                total += process_cpu_s(int(entry.name))
        except OSError:
            continue
    return total


def machine_busy_s() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / CLK_TCK


def tree_cpu_s(pid: int) -> float:
    """A process and its children (``kefu serve`` with several workers forks them)."""
    total = process_cpu_s(pid)
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and _parent_of(int(entry.name)) == pid:
                total += process_cpu_s(int(entry.name))
        except OSError:
            continue  # it exited meanwhile
    return total


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- the server ----------------------------------------------------------------------------
class Server:
    """``kefu serve`` in a subprocess on loopback, over the given store."""

    def __init__(self, store: Store, data_dir: Path, port: int, workers: int = 1) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log = data_dir / "server.log"
        env = {
            **os.environ,
            "KEFU_DATA_DIR": str(data_dir),
            "KEFU_DATABASE_URL": store.url,
            "KEFU_HOST": "127.0.0.1",
            "KEFU_PORT": str(port),
            "KEFU_LOG_LEVEL": "warning",
            "KEFU_REDIS_URL": "",
            "KEFU_WORKERS": str(workers),
        }
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "kefu.cli", "serve"], env=env, stdout=out, stderr=out
            )
        self._wait_ready(120)

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"kefu serve exited: {self.log.read_text()[-2000:]}")
            try:
                if self._get("/readyz", {})[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError("kefu serve was not ready in time")

    def cpu_s(self) -> float:
        return tree_cpu_s(self.process.pid)

    def _get(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        connection = HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def get_json(self, path: str, token: str) -> Any:
        status, body = self._get(path, {"Authorization": f"Bearer {token}"})
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
        return json.loads(body)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- wrk -----------------------------------------------------------------------------------
def wrk(
    server: Server,
    name: str,
    script: str,
    path: str,
    token: str,
    args: list[str],
    *,
    seconds: float,
    connections: int,
) -> Run:
    command = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK / script),
        "-H",
        f"Authorization: Bearer {token}",
        "-H",
        "Content-Type: application/json",
        server.base + path,
        "--",
        *args,
    ]
    before = (server.cpu_s(), postgres_cpu_s(), children_cpu_s(), machine_busy_s())
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    after = (server.cpu_s(), postgres_cpu_s(), children_cpu_s(), machine_busy_s())
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    server_s, db_s, wrk_s, busy_s = (b - a for a, b in zip(before, after, strict=True))
    return Run(
        name=name,
        requests=figures["requests"],
        errors=figures["status_errors"] + figures["other_errors"],
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        server_cpu_s=server_s,
        db_cpu_s=db_s,
        wrk_cpu_s=wrk_s,
        other_cpu_s=max(0.0, busy_s - server_s - db_s - wrk_s),
    )


# -- one database --------------------------------------------------------------------------
def queries_per_page(settings: Settings) -> dict[str, int]:
    """Statements one list request runs, at a small and at a large page size."""
    runtime = Runtime.create(settings)
    statements: list[str] = []
    event.listen(runtime.db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    prepared.STATEMENT_HOOKS.append(statements.append)  # the page is a prepared read
    try:
        agent_id = runtime.db.run_read(accounts.user_id_by_email, dataset.AGENT)
        agent = runtime.db.run_read(accounts.principal_for_user, agent_id)
        counts = {}
        for limit in (5, 200):
            statements.clear()
            flt = TicketFilter(status=["open"])
            runtime.db.run_read(list_tickets, agent, flt, sort="-created_at", limit=limit)
            counts[str(limit)] = len(statements)
        return counts
    finally:
        prepared.STATEMENT_HOOKS.remove(statements.append)
        runtime.db.close()


def bench_database(store: Store, options: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kefu-bench-") as folder:
        data_dir = Path(folder)
        run_store = dataset.run_copy(store, data_dir)
        try:
            settings = Settings(data_dir=data_dir, database_url=run_store.url)
            made = dataset.tokens(settings)
            queries = queries_per_page(settings)
            server = Server(run_store, data_dir, options.port, options.workers)
            try:
                return measure(server, made, store, queries, options)
            finally:
                server.stop()
        finally:
            if dataset.is_postgres(run_store.url):
                dataset.drop_copy(run_store)


def measure(
    server: Server,
    made: dict[str, str],
    store: Store,
    queries: dict[str, int],
    options: argparse.Namespace,
) -> dict[str, Any]:
    admin = made[dataset.ADMIN]
    stored = server.get_json("/api/v1/tickets/count", admin)["count"]
    figures: dict[str, Any] = {"bench": "api", "db": store.db, "tickets_stored": stored}
    runs: list[Run] = []
    if "list" in options.cases:
        listed, mixed = list_runs(server, made[dataset.AGENT], options)
        runs += [listed, mixed]
        figures.update(list_figures(listed, mixed, queries))
    if "create" in options.cases:
        created, stored_now = create_run(server, admin, store, options)
        runs.append(created)
        figures.update(create_figures(created, stored_now))
    print_table(store.db, stored, runs)
    figures.update(
        db_cpu_ms={r.name: round(r.db_cpu_ms, 3) for r in runs} if store.db != "sqlite" else None,
        other_cpu_s=round(sum(r.other_cpu_s for r in runs), 1),
        concurrency=options.connections,
        duration_s=options.duration,
        workers=options.workers,
    )
    return figures


def list_runs(server: Server, agent: str, options: argparse.Namespace) -> tuple[Run, Run]:
    c, seconds = options.connections, options.duration
    wrk(server, "warm-up", "list.lua", LIST_PATH, agent, LIST_MIX, seconds=2, connections=c)
    listed = wrk(
        server, "list", "list.lua", LIST_PATH, agent, [LIST_PATH], seconds=seconds, connections=c
    )
    mixed = wrk(
        server, "list mix", "list.lua", LIST_PATH, agent, LIST_MIX, seconds=seconds, connections=c
    )
    return listed, mixed


def list_figures(listed: Run, mixed: Run, queries: dict[str, int]) -> dict[str, Any]:
    return {
        "list_p99_ms": round(listed.p99_ms, 2),
        "list_per_s": round(listed.per_s, 1),
        "list_p50_ms": round(listed.p50_ms, 2),
        "list_cpu_ms": round(listed.cpu_ms, 3),
        "list_mix_p99_ms": round(mixed.p99_ms, 2),
        "list_mix_per_s": round(mixed.per_s, 1),
        "list_mix_cpu_ms": round(mixed.cpu_ms, 3),
        "list_errors": listed.errors + mixed.errors,
        "list_queries": queries,
    }


def create_run(
    server: Server, admin: str, store: Store, options: argparse.Namespace
) -> tuple[Run, int]:
    """The create case, and how many tickets it stored (counted before and after)."""
    c, seconds = options.connections, options.duration
    pool = [str(int(store.customers * 1.2))]
    wrk(server, "warm-up", "create.lua", "/api/v1/tickets", admin, pool, seconds=2, connections=c)
    before = server.get_json("/api/v1/tickets/count", admin)["count"]
    created = wrk(
        server,
        "create",
        "create.lua",
        "/api/v1/tickets",
        admin,
        pool,
        seconds=seconds,
        connections=c,
    )
    after = server.get_json("/api/v1/tickets/count", admin)["count"]
    return created, after - before


def create_figures(created: Run, stored: int) -> dict[str, Any]:
    return {
        "create_per_s": round(created.per_s, 1),
        "create_p99_ms": round(created.p99_ms, 2),
        "create_cpu_ms": round(created.cpu_ms, 3),
        "create_p50_ms": round(created.p50_ms, 2),
        "create_errors": created.errors,
        "created_stored": stored,
    }


def print_table(db: str, stored: int, runs: list[Run]) -> None:
    print(f"\n{db}: {stored:,} tickets stored, wrk -t2 -c32, loadavg {os.getloadavg()[0]:.2f}")
    print(f"{'case':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms/req':>11} {'errors':>7}")
    for r in runs:
        print(
            f"{r.name:<10} {r.per_s:>8.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f}"
            f" {r.cpu_ms:>11.3f} {r.errors:>7}"
        )
    print(f"(other processes used {sum(r.other_cpu_s for r in runs):.1f} CPU-s meanwhile)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000, help="tickets stored for list")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--port", type=int, default=9022)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument(
        "--cases", default="list,create", help="comma-separated: list (list, list mix), create"
    )
    parser.add_argument("--workers", type=int, default=1, help="kefu serve processes")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed: sh scripts/ensure-wrk.sh (make bench does it)")
    options.cases = {c.strip() for c in options.cases.split(",") if c.strip()}
    dataset.run_on_each_database(parser, options, bench_database)


if __name__ == "__main__":
    main()
