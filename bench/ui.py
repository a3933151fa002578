"""bench.ui: server time of the workspace pages, and the bytes of the inbox's first load.

Over the cached store of ``bench/dataset.py`` (1,000,000 tickets by default) it starts
``kefu serve`` on loopback and, signed in by cookie as a support agent (so the private-team
rule applies), requests each page one after another, so the time is the server's own:
- the inbox as it opens (view "mine", with the counts of every view),
- the inbox's "all open" view, the largest built-in one,
- a ticket page with 200 messages (written through the services before the run).
It reports p50 / p95 / p99 and the server's CPU per page (from /proc). Then it loads the
inbox as a browser does the first time: the page and every asset it references, bytes
summed (and gzip-compressed, for reference). SQLite, and PostgreSQL too when
KEFU_BENCH_DATABASE_URL is set. The last line is one JSON object.

    python -m bench.ui [--tickets N] [--requests N] [--db sqlite|postgresql|all]
"""

from __future__ import annotations

import argparse
import gzip
import re
import statistics
import tempfile
import time
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

from bench import dataset
from bench.api import Server
from bench.dataset import Store
from kefu.accounts import service as accounts
from kefu.config import Settings
from kefu.runtime import Runtime
from kefu.security.deps import SESSION_COOKIE
from kefu.tickets import conversation
from kefu.tickets import service as tickets
from kefu.tickets.schemas import MessageCreate, RequesterIn, TicketCreate

MESSAGES = 200
ASSET = re.compile(r'(?:href|src)="(/static/[^"]+)"')


@dataclass
class Timing:
    name: str
    samples_ms: list[float]
    cpu_s: float

    def pct(self, p: float) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_s / len(self.samples_ms)


# -- preparing the run ---------------------------------------------------------------------
def prepare(settings: Settings) -> tuple[str, int]:
    """A ticket with 200 messages for the support agent, and that agent's session cookie."""
    runtime = Runtime.create(settings)
    try:
        db = runtime.db
        agent_id = db.run_read(accounts.user_id_by_email, dataset.AGENT)
        agent = db.run_read(accounts.principal_for_user, agent_id)
        team_id = sorted(agent.team_ids)[0]
        data = TicketCreate(
            subject="Printer KF-200 jams on tray 2 (long thread)",
            body="It jams every morning; photos attached in the next messages.",
            requester=RequesterIn(email=dataset.customer_email(1)),
            assignee_id=agent_id,
            team_id=team_id,
        )
        ticket_id = db.run_write(tickets.create_ticket, agent, data).id
        for n in range(1, MESSAGES):
            db.run_write(conversation.add_message, agent, ticket_id, _message(n))
        raw, _ = db.run_write(accounts.start_session, agent_id, "127.0.0.1", "bench.ui")
        return raw, ticket_id
    finally:
        runtime.db.close()


def _message(n: int) -> MessageCreate:
    if n % 3 == 0:
        return MessageCreate(body=f"Internal: checked the logs, step {n}.", visibility="note")
    if n % 3 == 1:
        return MessageCreate(
            body=f"订单还没有解决，这是第{n}次联系。The tray still jams.", author_type="customer"
        )
    return MessageCreate(body=f"Thanks for the details. Next step {n}: please try the reset.")


# -- measuring -----------------------------------------------------------------------------
def get(connection: HTTPConnection, path: str, cookie: str) -> bytes:
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"} if cookie else {}
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"GET {path} answered {response.status}: {body[:300]!r}")
    return body


def timed(server: Server, name: str, path: str, cookie: str, requests: int) -> Timing:
    connection = HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        for _ in range(5):
            get(connection, path, cookie)
        samples: list[float] = []
        cpu_before = server.cpu_s()
        for _ in range(requests):
            started = time.perf_counter()
            get(connection, path, cookie)
            samples.append(1000 * (time.perf_counter() - started))
        return Timing(name, samples, server.cpu_s() - cpu_before)
    finally:
        connection.close()


def first_load(server: Server, cookie: str) -> dict[str, int]:
    """The inbox page and each asset it references, as a browser's first visit loads them."""
    connection = HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        page = get(connection, "/inbox", cookie)
        bodies = [page] + [
            get(connection, path, "") for path in dict.fromkeys(ASSET.findall(page.decode()))
        ]
    finally:
        connection.close()
    return {
        "files": len(bodies),
        "bytes": sum(len(b) for b in bodies),
        "gzip_bytes": sum(len(gzip.compress(b, 6)) for b in bodies),
        "page_bytes": len(page),
    }


def bench_database(store: Store, options: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kefu-bench-ui-") as folder:
        data_dir = Path(folder)
        run_store = dataset.run_copy(store, data_dir)
        try:
            cookie, ticket_id = prepare(Settings(data_dir=data_dir, database_url=run_store.url))
            server = Server(run_store, data_dir, options.port)
            try:
                return measure(server, store, cookie, ticket_id, options.requests)
            finally:
                server.stop()
        finally:
            if dataset.is_postgres(run_store.url):
                dataset.drop_copy(run_store)


def measure(
    server: Server, store: Store, cookie: str, ticket_id: int, requests: int
) -> dict[str, Any]:
    runs = [
        timed(server, "inbox", "/inbox", cookie, requests),
        timed(server, "all open", "/inbox?view=open", cookie, requests),
        timed(server, "ticket", f"/tickets/{ticket_id}", cookie, requests),
    ]
    load = first_load(server, cookie)
    print_table(store, runs, load)
    inbox, opened, ticket = runs
    return {
        "bench": "ui",
        "db": store.db,
        "tickets_stored": store.tickets,
        "inbox_p50_ms": round(inbox.pct(0.5), 2),
        "inbox_p95_ms": round(inbox.pct(0.95), 2),
        "inbox_p99_ms": round(inbox.pct(0.99), 2),
        "inbox_cpu_ms": round(inbox.cpu_ms, 2),
        "open_view_p95_ms": round(opened.pct(0.95), 2),
        "ticket_p50_ms": round(ticket.pct(0.5), 2),
        "ticket_p95_ms": round(ticket.pct(0.95), 2),
        "ticket_p99_ms": round(ticket.pct(0.99), 2),
        "ticket_cpu_ms": round(ticket.cpu_ms, 2),
        "ticket_messages": MESSAGES,
        "inbox_first_load_bytes": load["bytes"],
        "inbox_first_load_gzip_bytes": load["gzip_bytes"],
        "inbox_first_load_files": load["files"],
        "requests_per_page": requests,
    }


def print_table(store: Store, runs: list[Timing], load: dict[str, int]) -> None:
    print(f"\n{store.db}: {store.tickets:,} tickets stored; one request at a time")
    print(f"{'page':<10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'cpu ms':>8}")
    for r in runs:
        print(
            f"{r.name:<10} {r.pct(0.5):>8.2f} {r.pct(0.95):>8.2f} {r.pct(0.99):>8.2f}"
            f" {statistics.fmean(r.samples_ms):>8.2f} {r.cpu_ms:>8.2f}"
        )
    kib = {k: v / 1024 for k, v in load.items()}
    print(
        f"inbox first load: {load['files']} files, {kib['bytes']:.1f} KiB"
        f" ({kib['gzip_bytes']:.1f} KiB gzip-compressed), page {kib['page_bytes']:.1f} KiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000, help="tickets stored")
    parser.add_argument("--requests", type=int, default=200, help="requests per page")
    parser.add_argument("--port", type=int, default=9031)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "all"], default="all")
    options = parser.parse_args()
    dataset.run_on_each_database(parser, options, bench_database)


if __name__ == "__main__":
    main()
