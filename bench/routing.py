"""bench.routing: how fast the router decides, and how fast an offer reaches an agent.

1. Decisions (the router core, in process): 100, 1,000 and 10,000 agents with 100,000
   waiting items in 20 queues (skills, languages, three media, VIP and priority scoring).
   Every agent is full. One decision = an agent finishes an item and the router picks the
   best waiting item it may take (and the next arrival is queued); wall time and the
   thread's CPU time (steadier on a shared machine) are both kept. Also timed: an arrival
   while agents are idle, where the router picks the best agent. p50 / p99 per decision and
   decisions per second, printed as a curve over the agent count.
2. The full loop (the real server): ``kefu serve`` on loopback, agents connected to the
   routing socket; work is posted to ``/api/v1/routing/items`` at a steady rate, the offer
   arrives on the chosen agent's socket, the agent accepts on the socket. Timed from the
   POST to the offer and to the acceptance; the server's CPU per item (enqueue, offer,
   accept, and the setup requests) is read from /proc. SQLite, and PostgreSQL when
   KEFU_BENCH_DATABASE_URL is set.

    python -m bench.routing [--decisions N] [--loop-items N] [--skip-loop] [--db ...]

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

from bench.api import process_cpu_s
from bench.dataset import fresh_pg_database
from kefu import migrate
from kefu.accounts import service as accounts
from kefu.accounts.models import Role
from kefu.accounts.schemas import TokenCreate, UserCreate
from kefu.config import Settings
from kefu.routing.core import AgentSpec, ItemSpec, QueueSpec, Router, Strategy, Weights
from kefu.runtime import Runtime

PORT = 9054
SKILLS = [f"skill{n}" for n in range(30)]
MEDIA = (("email", 50), ("chat", 35), ("voice", 15))
LANGUAGES = (("en", 60), ("zh_CN", 30), ("ja", 10))
CAPACITY = {"voice": 1, "chat": 3, "email": 10}


# -- 1. decisions ---------------------------------------------------------------------------
def _queues(rnd: random.Random) -> list[QueueSpec]:
    weights = Weights(1.0, {"vip": 120}, {"low": -30, "high": 60, "urgent": 180}, 120, 300)
    strategies = [s for s in Strategy if s is not Strategy.ring_all]
    return [
        QueueSpec(
            n,
            strategy=strategies[n % len(strategies)],
            weights=weights,
            skills={s: rnd.randint(1, 3) for s in rnd.sample(SKILLS, rnd.randint(1, 2))},
        )
        for n in range(1, 21)
    ]


def _agent(rnd: random.Random, agent_id: int, queues: list[QueueSpec]) -> AgentSpec:
    skills: dict[str, int] = {}
    for queue in rnd.sample(queues, rnd.randint(3, 6)):
        for name in queue.skills:
            skills[name] = max(skills.get(name, 0), rnd.randint(3, 5))
    languages = {"en"} if rnd.random() < 0.8 else {"ja"}
    if rnd.random() < 0.4:
        languages.add("zh_CN")
    return AgentSpec(
        agent_id,
        capacity=CAPACITY,
        blocks={"voice": ["chat"]},
        skills=skills,
        languages=frozenset(languages),
        idle_since=rnd.random(),
    )


def _item(rnd: random.Random, item_id: int, queues: list[QueueSpec], now: float) -> ItemSpec:
    queue = rnd.choice(queues)
    media = rnd.choices([m for m, _ in MEDIA], [w for _, w in MEDIA])[0]
    language = rnd.choices([x for x, _ in LANGUAGES], [w for _, w in LANGUAGES])[0]
    priority = rnd.choices(["low", "normal", "high", "urgent"], [10, 60, 20, 10])[0]
    tier = "vip" if rnd.random() < 0.1 else "standard"
    sla = now + rnd.uniform(600, 7200) if rnd.random() < 0.3 else None
    return ItemSpec(
        item_id,
        queue.id,
        media,
        dict(queue.skills),
        language,
        None,
        priority,
        tier,
        enqueued_at=now - rnd.uniform(0, 600),
        sla_due_at=sla,
    )


def _fill(router: Router, rnd: random.Random, queues: list[QueueSpec], agents: int) -> int:
    """Every agent holds as much as it may (held items are router rows too)."""
    item_id = 0
    for agent_id in range(1, agents + 1):
        spec = router.agent(agent_id)
        assert spec is not None
        for media in ("email", "chat", "voice"):
            for _ in range(spec.capacity[media] if media != "chat" else 0):
                item_id += 1
                held = ItemSpec(item_id, rnd.choice(queues).id, media, enqueued_at=-60.0)
                router.upsert_item(held, "assigned", [agent_id])
    return item_id


def _staffed(rnd: random.Random, agents: int) -> tuple[Router, list[QueueSpec]]:
    queues = _queues(rnd)
    router = Router()
    for queue in queues:
        router.upsert_queue(queue)
    for agent_id in range(1, agents + 1):
        router.upsert_agent(_agent(rnd, agent_id, queues))
    return router, queues


def _setup(agents: int, waiting: int, seed: int) -> tuple[Router, random.Random, list[Any], int]:
    rnd = random.Random(seed)
    router, queues = _staffed(rnd, agents)
    item_id = _fill(router, rnd, queues, agents)
    for _ in range(waiting):
        item_id += 1
        router.upsert_item(_item(rnd, item_id, queues, 0.0))
    assert router.next_offers(0.0) == [], "every agent is full"
    # Everything built so far lives as long as the router: keep the collector off it.
    gc.collect()
    gc.freeze()
    return router, rnd, queues, item_id


def decisions(agents: int, waiting: int, count: int, seed: int = 1) -> dict[str, Any]:
    router, rnd, queues, item_id = _setup(agents, waiting, seed)
    held = [i for i in router.item_ids if (found := router.item(i)) and found[1] == "assigned"]
    timings: list[float] = []
    cpu: list[float] = []
    made = 0
    now = 1.0
    started = time.perf_counter()
    for _ in range(count):
        now += 0.01
        done = held.pop(rnd.randrange(len(held)))
        begin, begin_cpu = time.perf_counter_ns(), time.thread_time_ns()
        router.remove_item(done)
        offers = router.next_offers(now)
        cpu.append((time.thread_time_ns() - begin_cpu) / 1e6)
        timings.append((time.perf_counter_ns() - begin) / 1e6)
        for offer in offers:
            router.accept(offer.item_id, offer.agent_ids[0])
            held.append(offer.item_id)
            made += 1
        item_id += 1
        router.upsert_item(_item(rnd, item_id, queues, now))
        router.next_offers(now)
    elapsed = time.perf_counter() - started
    arrival = _arrivals(agents, min(count, 5000), seed)
    gc.unfreeze()
    return {
        "agents": agents,
        "waiting": router.waiting_count(),
        "p50_ms": round(_pct(timings, 50), 4),
        "p99_ms": round(_pct(timings, 99), 4),
        "per_s": round(count / elapsed),
        "cpu_p50_ms": round(_pct(cpu, 50), 4),
        "cpu_p99_ms": round(_pct(cpu, 99), 4),
        "offers_made": made,
        "arrival_p50_ms": round(_pct(arrival, 50), 4),
        "arrival_p99_ms": round(_pct(arrival, 99), 4),
    }


def _arrivals(agents: int, count: int, seed: int) -> list[float]:
    """Idle agents, one arrival at a time: the router picks the best agent for it."""
    rnd = random.Random(seed + 1)
    router, queues = _staffed(rnd, agents)
    timings = []
    # The first item of each new set of requirements files its group (O(agents), once):
    # a first pass, untimed, measures the steady state.
    for n in range(1, 2 * count + 1):
        item = _item(rnd, n, queues, float(n))
        begin = time.perf_counter_ns()
        router.upsert_item(item)
        offers = router.next_offers(float(n))
        if n > count:
            timings.append((time.perf_counter_ns() - begin) / 1e6)
        for offer in offers:
            router.remove_item(offer.item_id)
        router.remove_item(n)
    return timings


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))] if ordered else 0.0


# -- 2. the full loop -----------------------------------------------------------------------
def _prepare(url: str, data: Path, agents: int) -> tuple[dict[str, str], list[dict[str, Any]]]:
    settings = Settings(data_dir=data, database_url=url, secret_key="bench-routing")
    runtime = Runtime.create(settings)
    migrate.upgrade(runtime.db.engine)
    try:
        people: list[dict[str, Any]] = []
        for role, n in [(Role.supervisor, 0)] + [(Role.agent, n) for n in range(agents)]:
            email = f"{role}{n}-{random.getrandbits(32):x}@bench.example"
            user = UserCreate(email=email, name=f"{role} {n}", role=role, password="bench-pass-1")
            made = runtime.db.run_write(accounts.create_user, user)
            token = runtime.db.run_write(accounts.create_token, made.id, TokenCreate(name="b"))
            people.append({"id": made.id, "headers": {"Authorization": f"Bearer {token.token}"}})
    finally:
        runtime.db.close()
    lead: dict[str, str] = people[0]["headers"]
    return lead, people[1:]


def _serve(url: str, data: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KEFU_DATABASE_URL": url,
        "KEFU_DATA_DIR": str(data),
        "KEFU_SECRET_KEY": "bench-routing",
        "KEFU_LOG_LEVEL": "warning",
    }
    kefu = Path(sys.executable).with_name("kefu")
    proc = subprocess.Popen([str(kefu), "serve", "--port", str(PORT)], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("kefu serve did not start")


class Loop:
    def __init__(self) -> None:
        self.posted: dict[str, float] = {}
        self.answered: dict[str, float] = {}
        self.offered: dict[str, float] = {}
        self.accepted: dict[str, float] = {}
        self.refs: dict[int, str] = {}
        self.sending: set[asyncio.Future[None]] = set()

    async def agent(
        self, headers: dict[str, str], ready: asyncio.Event, stop: asyncio.Event
    ) -> None:
        uri = f"ws://127.0.0.1:{PORT}/api/v1/routing/ws"
        async with websockets.connect(uri, additional_headers=headers) as ws:
            ready.set()
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                self._on(json.loads(raw), ws)

    def _on(self, message: dict[str, Any], ws: Any) -> None:
        now = time.perf_counter()
        if message["type"] == "offer":
            offer = message["offer"]
            self.offered.setdefault(offer["external_ref"], now)
            self.refs[offer["id"]] = offer["external_ref"]
            answer = json.dumps({"type": "accept", "offer_id": offer["id"]})
            self.sending.add(task := asyncio.ensure_future(ws.send(answer)))
            task.add_done_callback(self.sending.discard)
        elif message["type"] == "accepted":
            self.accepted.setdefault(self.refs[message["offer_id"]], now)


async def _drive(
    lead: dict[str, str], agents: list[dict[str, Any]], items: int, rate: float
) -> Loop:
    base = f"http://127.0.0.1:{PORT}/api/v1"
    loop = Loop()
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        queue = (await http.post("/routing/queues", json={"name": "bench"}, headers=lead)).json()
        seat = {"capacity": {"chat": 100, "voice": 1, "email": 0}, "languages": ["en"]}
        for agent in agents:
            await http.patch(f"/agents/{agent['id']}/seat", json=seat, headers=lead)
            await http.put(
                "/agents/me/state", json={"state": "available"}, headers=agent["headers"]
            )
        stop = asyncio.Event()
        readies = [asyncio.Event() for _ in agents]
        sockets = [
            asyncio.create_task(loop.agent(a["headers"], r, stop))
            for a, r in zip(agents, readies, strict=True)
        ]
        await asyncio.gather(*(r.wait() for r in readies))
        for n in range(items):
            ref = f"bench-{n}"
            loop.posted[ref] = time.perf_counter()
            body = {"queue_id": queue["id"], "kind": "chat", "external_ref": ref}
            await http.post("/routing/items", json=body, headers=lead)
            loop.answered[ref] = time.perf_counter()
            await asyncio.sleep(1 / rate)
        await asyncio.sleep(2)
        stop.set()
        await asyncio.gather(*sockets, return_exceptions=True)
    return loop


def full_loop(url: str | None, items: int, agents: int, rate: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kefu-bench-routing-") as folder:
        data = Path(folder)
        db_url = (
            fresh_pg_database(url, "kefu_bench_routing") if url else f"sqlite:///{data / 'kefu.db'}"
        )
        lead, people = _prepare(db_url, data, agents)
        proc = _serve(db_url, data)
        try:
            cpu_before = process_cpu_s(proc.pid)
            loop = asyncio.run(_drive(lead, people, items, rate))
            cpu_ms = 1000 * (process_cpu_s(proc.pid) - cpu_before) / items
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    offer_ms = [(loop.offered[r] - t) * 1000 for r, t in loop.posted.items() if r in loop.offered]
    done_ms = [(loop.accepted[r] - t) * 1000 for r, t in loop.posted.items() if r in loop.accepted]
    post_ms = [(loop.answered[r] - t) * 1000 for r, t in loop.posted.items() if r in loop.answered]
    return {
        "db": "postgresql" if url else "sqlite",
        "items": items,
        "agents": agents,
        "rate_per_s": rate,
        "offered": len(offer_ms),
        "accepted": len(done_ms),
        "offer_p50_ms": round(_pct(offer_ms, 50), 1),
        "offer_p99_ms": round(_pct(offer_ms, 99), 1),
        "loop_p50_ms": round(_pct(done_ms, 50), 1),
        "loop_p99_ms": round(_pct(done_ms, 99), 1),
        "loop_mean_ms": round(statistics.fmean(done_ms), 1) if done_ms else None,
        "post_p50_ms": round(_pct(post_ms, 50), 1),
        "post_p99_ms": round(_pct(post_ms, 99), 1),
        "server_cpu_ms_per_item": round(cpu_ms, 2),
    }


def curve(agent_counts: list[int], waiting: int, count: int) -> list[dict[str, Any]]:
    rows = []
    print(
        f"{'agents':>7} {'waiting':>8} {'p50 ms':>8} {'p99 ms':>8} {'cpu p99':>8} "
        f"{'per s':>7} {'arrival p50':>12} {'arrival p99':>12}"
    )
    for agents in agent_counts:
        row = decisions(agents, waiting, count)
        rows.append(row)
        print(
            f"{row['agents']:>7} {row['waiting']:>8} {row['p50_ms']:>8} {row['p99_ms']:>8} "
            f"{row['cpu_p99_ms']:>8} {row['per_s']:>7} {row['arrival_p50_ms']:>12} "
            f"{row['arrival_p99_ms']:>12}",
            flush=True,
        )
    if len(rows) > 1:
        growth = rows[-1]["p50_ms"] / max(rows[0]["p50_ms"], 1e-9)
        ratio = rows[-1]["agents"] / rows[0]["agents"]
        print(f"p50 grows {growth:.2f}x for {ratio:.0f}x the agents")
    return rows


def loops(db: str, items: int, agents: int, rate: float) -> list[dict[str, Any]]:
    pg = os.environ.get("KEFU_BENCH_DATABASE_URL")
    targets: list[str | None] = [None] if db in ("sqlite", "all") else []
    if pg and db in ("postgresql", "all"):
        targets.append(pg)
    rows = []
    for url in targets:
        row = full_loop(url, items, agents, rate)
        rows.append(row)
        print(
            f"loop {row['db']}: offer p50 {row['offer_p50_ms']} ms p99 "
            f"{row['offer_p99_ms']} ms; accepted p50 {row['loop_p50_ms']} ms p99 "
            f"{row['loop_p99_ms']} ms ({row['accepted']}/{row['items']})",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--waiting", type=int, default=100_000)
    parser.add_argument("--agents", default="100,1000,10000")
    parser.add_argument("--loop-items", type=int, default=600)
    parser.add_argument("--loop-agents", type=int, default=50)
    parser.add_argument("--loop-rate", type=float, default=20.0)
    parser.add_argument("--skip-loop", action="store_true")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "all"), default="all")
    args = parser.parse_args()
    counts = [int(a) for a in args.agents.split(",")]
    results = curve(counts, args.waiting, args.decisions)
    full = (
        [] if args.skip_loop else loops(args.db, args.loop_items, args.loop_agents, args.loop_rate)
    )
    print(json.dumps({"bench": "routing", "results": results, "loop": full}))


if __name__ == "__main__":
    main()
