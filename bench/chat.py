"""bench.chat: web chat under load, through the real server and real sockets.

``kefu serve`` runs in one process; the load generator (asyncio + ``websockets``, and a
minimal keep-alive HTTP client) in another. 1,000 visitors hold widget sockets, each in one
of 50 teams; 50 agents (one per team) hold agent sockets and answer with
``POST /api/v1/tickets/{id}/messages``, the workspace's own path. 20,000 messages are offered
at 500 per second, half from visitors (each lands on the visitor's ticket and must reach
the team's agent socket), half agents' replies (each goes through the outbox and the
``webchat`` adapter and must reach the visitor's socket). Every message carries a unique
key: the script counts what never arrived (lost) and what arrived twice (duplicated), and
checks the database holds each message once. Runs on SQLite, and on PostgreSQL too when
KEFU_BENCH_DATABASE_URL is set. The last line is one JSON object per database.

    python -m bench.chat [--messages N] [--rate R] [--customers C] [--agents A] [--db ...]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import websockets
from sqlalchemy import create_engine, func, select

from bench.api import Server
from bench.dataset import Store, fresh_pg_database
from kefu import migrate
from kefu.accounts import service as accounts
from kefu.accounts.schemas import TeamCreate, TokenCreate, UserCreate
from kefu.channels import service as channels
from kefu.channels.adapters import load_adapters
from kefu.channels.delivery import secret_box
from kefu.channels.schemas import ChannelAccountCreate
from kefu.config import Settings
from kefu.db import normalise_url
from kefu.runtime import Runtime
from kefu.tickets.models import Message

PORT = 9095
RESULTS = Path(__file__).parent / "results"
CONNECTED = "connected"  # the generator's line when its sockets are open
DRAIN_S = 20.0  # how long stragglers are waited for after the last offer
TIME_LIMIT_S = 600.0


# -- the data ----------------------------------------------------------------------------
@dataclass
class Plan:
    port: int
    account: int
    teams: list[int]
    agent_tokens: list[str]
    customers: int
    messages: int
    rate: float


def prepare(settings: Settings, customers: int, agents: int) -> tuple[int, list[int], list[str]]:
    """A web chat account offering one team per agent; the agents and their API tokens."""
    runtime = Runtime.create(settings)
    runtime.secret_key = settings.secret_key
    load_adapters()
    try:
        migrate.upgrade(runtime.db.engine)
        teams, tokens = [], []
        for n in range(agents):
            team = runtime.db.run_write(accounts.create_team, TeamCreate(name=f"Team {n}"))
            user = runtime.db.run_write(
                accounts.create_user,
                UserCreate(
                    email=f"agent{n}@bench.example.com",
                    name=f"Agent {n}",
                    role="agent",
                    password=uuid.uuid4().hex,
                    team_ids=[team.id],
                ),
            )
            token = runtime.db.run_write(accounts.create_token, user.id, TokenCreate(name="bench"))
            teams.append(team.id)
            tokens.append(token.token)
        account = runtime.db.run_write(
            channels.create_account,
            secret_box(runtime),
            ChannelAccountCreate(
                kind="webchat",
                name="Bench chat",
                config={"availability": "always", "teams": teams, "transcript_delay_s": 3600},
            ),
        )
        return account.id, teams, tokens
    finally:
        runtime.db.close()


def stored_messages(url: str) -> tuple[int, int]:
    """(web chat messages, distinct bodies) in the database after the run."""
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as connection:
            row = connection.execute(
                select(func.count(), func.count(func.distinct(Message.body_text))).where(
                    Message.channel == "webchat"
                )
            ).one()
            return int(row[0]), int(row[1])
    finally:
        engine.dispose()


# -- the load generator (its own process) ------------------------------------------------
def dumps(frame: dict[str, Any]) -> str:
    return orjson.dumps(frame).decode()  # a text frame, as the widget sends


class HttpConnection:
    """Keep-alive HTTP/1.1 POSTs over one socket: a fraction of a general client's CPU."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.lock = asyncio.Lock()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        async with self.lock:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            assert self.reader is not None
            head = (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.token}"
                f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            self.writer.write(head.encode() + body)
            status = int((await self.reader.readline()).split()[1])
            length = 0
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await self.reader.readexactly(length)
            return status


@dataclass
class Tally:
    offered_at: dict[str, float] = field(default_factory=dict)
    arrivals: collections.Counter[str] = field(default_factory=collections.Counter)
    latency_ms: dict[str, list[float]] = field(
        default_factory=lambda: {"visitor→agent": [], "agent→visitor": []}
    )
    stored: int = 0
    refused: list[str] = field(default_factory=list)

    def arrived(self, key: str, direction: str) -> None:
        self.arrivals[key] += 1
        sent = self.offered_at.get(key)
        if self.arrivals[key] == 1 and sent is not None:
            self.latency_ms[direction].append((time.monotonic() - sent) * 1000)


class LoadGenerator:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.tally = Tally()
        self.visitors: list[Any] = []
        self.agents: list[tuple[Any, HttpConnection]] = []
        self.waiting: list[collections.deque[int]] = [
            collections.deque() for _ in plan.agent_tokens
        ]
        self.tasks: list[asyncio.Task[None]] = []
        self.replies: set[asyncio.Task[None]] = set()

    async def connect(self) -> None:
        url = f"ws://127.0.0.1:{self.plan.port}/api/v1/webchat"
        for n, token in enumerate(self.plan.agent_tokens):
            ws = await websockets.connect(
                f"{url}/agent?scope=teams",
                additional_headers={"Authorization": f"Bearer {token}"},
                ping_interval=None,  # an overloaded server must not cost the client its socket
                max_queue=None,
            )
            self.agents.append((ws, HttpConnection(self.plan.port, token)))
            self.tasks.append(asyncio.create_task(self.read_agent(n, ws)))
        for start in range(0, self.plan.customers, 100):
            batch = range(start, min(start + 100, self.plan.customers))
            self.visitors += await asyncio.gather(*(self.visitor(url, n) for n in batch))
        for ws in self.visitors:
            self.tasks.append(asyncio.create_task(self.read_visitor(ws)))

    async def visitor(self, url: str, n: int) -> Any:
        ws = await websockets.connect(f"{url}/ws", ping_interval=None, max_queue=None)
        await ws.send(dumps({"type": "hello", "channel": str(self.plan.account)}))
        team = self.plan.teams[n % len(self.plan.teams)]
        await ws.send(dumps({"type": "profile", "name": f"Visitor {n}", "team_id": team}))
        while orjson.loads(await ws.recv())["type"] != "profile":
            pass
        return ws

    async def read_visitor(self, ws: Any) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            await self._read_visitor(ws)

    async def _read_visitor(self, ws: Any) -> None:
        async for raw in ws:
            frame = orjson.loads(raw)
            kind = frame["type"]
            if kind == "message" and frame["from"] == "agent":
                self.tally.arrived(frame["text"], "agent→visitor")
                await ws.send(dumps({"type": "received", "seq": frame["seq"]}))
            elif kind == "ack":
                self.tally.stored += 1
            elif kind == "error":
                self.tally.refused.append(frame["code"])

    async def read_agent(self, n: int, ws: Any) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            await self._read_agent(n, ws)

    async def _read_agent(self, n: int, ws: Any) -> None:
        async for raw in ws:
            frame = orjson.loads(raw)
            if frame["type"] == "message" and frame["from"] == "customer":
                self.tally.arrived(frame["text"], "visitor→agent")
                self.waiting[n].append(int(frame["ticket_id"]))

    async def offer(self) -> float:
        """Offer the messages on a fixed timetable; returns the seconds it took."""
        interval, started = 1 / self.plan.rate, time.monotonic()
        next_visitor, next_agent = 0, 0
        for i in range(self.plan.messages):
            delay = started + i * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            agent = self.agent_with_work(next_agent) if i % 2 else None
            if agent is None:
                ws = self.visitors[next_visitor % len(self.visitors)]
                next_visitor += 1
                key = f"v:{i}"
                self.tally.offered_at[key] = time.monotonic()
                with contextlib.suppress(websockets.ConnectionClosed):  # counted as lost
                    await ws.send(dumps({"type": "message", "client_id": f"m{i}", "text": key}))
            else:
                next_agent = agent + 1
                task = asyncio.create_task(self.reply(agent, f"a:{i}"))
                self.replies.add(task)
                task.add_done_callback(self.replies.discard)
        return time.monotonic() - started

    def agent_with_work(self, first: int) -> int | None:
        count = len(self.waiting)
        for step in range(count):
            n = (first + step) % count
            if self.waiting[n]:
                return n
        return None

    async def reply(self, agent: int, key: str) -> None:
        ticket_id = self.waiting[agent].popleft()
        self.tally.offered_at[key] = time.monotonic()
        body = orjson.dumps({"body": key})
        try:
            status = await self.agents[agent][1].post(f"/api/v1/tickets/{ticket_id}/messages", body)
        except (OSError, asyncio.IncompleteReadError) as exc:
            self.tally.refused.append(type(exc).__name__)
            return
        if status == 201:
            self.tally.stored += 1
        else:
            self.tally.refused.append(f"http {status}")

    async def drain(self) -> None:
        deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < deadline:
            if not self.replies and all(k in self.tally.arrivals for k in self.tally.offered_at):
                return
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for ws in [*self.visitors, *(a[0] for a in self.agents)]:
            with contextlib.suppress(websockets.ConnectionClosed, OSError):
                await ws.close()


async def generate(plan: Plan) -> dict[str, Any]:
    load = LoadGenerator(plan)
    connect_started = time.monotonic()
    await load.connect()
    connected_s = time.monotonic() - connect_started
    print(CONNECTED, flush=True)  # the server's CPU from here on is the messages'
    offer_s = await load.offer()
    await load.drain()
    await load.close()
    tally = load.tally
    lost = [k for k in tally.offered_at if k not in tally.arrivals]
    every = sorted(ms for values in tally.latency_ms.values() for ms in values)
    return {
        "connected_s": connected_s,
        "offer_s": offer_s,
        "offered": len(tally.offered_at),
        "stored_acks": tally.stored,
        "refused": collections.Counter(tally.refused),
        "lost": len(lost),
        "duplicated": sum(c - 1 for c in tally.arrivals.values() if c > 1),
        "directions": {d: summary(v) for d, v in tally.latency_ms.items()},
        "all": summary(every),
    }


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0, "p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
        "max_ms": round(ordered[-1], 1),
    }


# -- orchestration -----------------------------------------------------------------------
def bench_database(db: str, options: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    if db == "postgresql":
        url = fresh_pg_database(options.pg_url, "kefu_bench_chat")
    else:
        url = f"sqlite:///{workdir / 'kefu.db'}"
    settings = Settings(data_dir=workdir, database_url=url, secret_key="bench-chat")
    account, teams, tokens = prepare(settings, options.customers, options.agents)
    plan = Plan(
        options.port, account, teams, tokens, options.customers, options.messages, options.rate
    )
    server = Server(Store(db, url, 0, 0), workdir, options.port)
    try:
        cpu_before = server.cpu_s()
        at_connect: list[float] = []
        spies: list[subprocess.Popen[bytes]] = []

        def connected() -> None:
            at_connect.append(server.cpu_s())
            if options.profile:  # where the messages' time goes, not the sockets' opening
                spies.append(profiler(server, options.profile, workdir))

        result = run_generator(plan, connected)
        cpu_after = server.cpu_s()
        result["server_cpu_s"] = cpu_after - cpu_before
        result["connect_cpu_s"] = (at_connect or [cpu_after])[0] - cpu_before
        spy = spies[0] if spies else None
        if spy is not None:
            spy.wait(60)
            kept = RESULTS / f"chat_profile_{db}.txt"  # collapsed stacks, for a flame graph
            RESULTS.mkdir(parents=True, exist_ok=True)
            kept.write_text((workdir / "profile.txt").read_text())
            print_profile(kept, options.profile)
    except Exception:
        print(server.log.read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        server.stop()
    result["rows"], result["distinct_rows"] = stored_messages(url)
    return result


def profiler(server: Server, seconds: float, workdir: Path) -> subprocess.Popen[bytes]:
    """py-spy samples the server for ``seconds`` (``--profile``: where the time goes)."""
    spy = Path(sys.executable).with_name("py-spy")
    command = [
        str(spy) if spy.exists() else "py-spy",
        "record",
        "-p",
        str(server.process.pid),
        "-d",
        str(int(seconds)),
    ]
    command += ["-r", "250", "-f", "raw", "--nonblocking", "--gil"]  # CPU: who holds the GIL
    command += ["-o", str(workdir / "profile.txt")]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def print_profile(path: Path, seconds: float) -> None:
    """Samples per function, inclusive (a function counts once per stack it is on)."""
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        for frame in set(stack.split(";")):
            inclusive[frame.split(" (")[0] + " " + frame.rsplit("/", 1)[-1].rstrip(")")] += n
    print(f"\nserver profile: {total} samples over {seconds:.0f} s (threads holding the GIL)")
    for frame, n in inclusive.most_common(45):
        print(f"{100 * n / max(1, total):6.1f}%  {frame}")


def run_generator(plan: Plan, connected: Callable[[], None]) -> dict[str, Any]:
    """The load generator in its own process, so its CPU is not the server's. ``connected``
    is called when every socket is open and the first message is about to be offered."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.chat", "--generate", json.dumps(plan.__dict__)],
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        timer = threading.Timer(TIME_LIMIT_S, process.kill)
        timer.start()
        try:
            assert process.stdout is not None
            lines = []
            for raw in process.stdout:
                line = raw.decode().strip()
                if line == CONNECTED:
                    connected()
                elif line:
                    lines.append(line)
            process.wait()
        finally:
            timer.cancel()
        if process.returncode != 0 or not lines:
            errors.seek(0)
            raise RuntimeError(f"the load generator failed: {errors.read().decode()[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def print_table(db: str, r: dict[str, Any]) -> None:
    print(
        f"\nweb chat on {db}: {r['offered']:,} messages offered in {r['offer_s']:.1f} s "
        f"({r['offered'] / r['offer_s']:.0f}/s); {r['connected_s']:.1f} s to connect"
    )
    print(f"{'direction':<16}{'delivered':>10}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for name, s in [*r["directions"].items(), ("all", r["all"])]:
        print(f"{name:<16}{s['n']:>10,}{s['p50_ms']:>10}{s['p99_ms']:>10}{s['max_ms']:>10}")
    print(
        f"lost {r['lost']}, duplicated {r['duplicated']}, stored (acked/201) "
        f"{r['stored_acks']:,}, rows {r['rows']:,} ({r['distinct_rows']:,} distinct), "
        f"refused {dict(r['refused']) or 'none'}; server CPU {r['server_cpu_s']:.1f} s "
        f"({1000 * r['server_cpu_s'] / max(1, r['offered']):.2f} ms per message; "
        f"{r['connect_cpu_s']:.1f} s of it connecting the sockets, "
        f"{messages_cpu_ms(r):.2f} ms per message after)"
    )


def messages_cpu_ms(r: dict[str, Any]) -> float:
    """Server CPU per message from the first offer on (the sockets' opening left out)."""
    return 1000 * (r["server_cpu_s"] - r["connect_cpu_s"]) / max(1, r["offered"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument("--profile", type=float, default=0, help="py-spy the server N s")
    parser.add_argument("--generate", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.generate:
        result = asyncio.run(generate(Plan(**json.loads(options.generate))))
        print(json.dumps(result))
        return
    options.pg_url = os.environ.get("KEFU_BENCH_DATABASE_URL", "")
    dbs = ["sqlite", "postgresql"] if options.db == "all" else [options.db]
    dbs = [d for d in dbs if d == "sqlite" or options.pg_url]
    lines = []
    for db in dbs:
        with tempfile.TemporaryDirectory(prefix="kefu-bench-chat-") as tmp:
            r = bench_database(db, options, Path(tmp))
        print_table(db, r)
        lines.append(
            {
                "bench": "chat",
                "db": db,
                "messages": r["offered"],
                "per_s": round(r["offered"] / r["offer_s"], 1),
                "p50_ms": r["all"]["p50_ms"],
                "p99_ms": r["all"]["p99_ms"],
                "lost": r["lost"],
                "duplicated": r["duplicated"],
                "server_cpu_ms_per_message": round(
                    1000 * r["server_cpu_s"] / max(1, r["offered"]), 3
                ),
                "server_cpu_ms_per_message_after_connect": round(messages_cpu_ms(r), 3),
            }
        )
    last = dict(lines[0])
    for other in lines[1:]:
        last[other["db"]] = other
    print(json.dumps(last, ensure_ascii=False))


if __name__ == "__main__":
    main()
