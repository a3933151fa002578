"""Several real ``kefu serve`` processes on one PostgreSQL and one Redis, racing on the same
queues: work is enqueued, offers accepted (ring-all calls by several agents at once),
rejected and finished through whichever process, agents change state, and the leading
dispatcher is killed half way. A sampler checks the invariants in consistent snapshots
throughout; at the end every item was answered once, and no two pending offers of one
item ever overlapped in time."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from kefu.config import Settings
from kefu.db import normalise_url
from kefu.routing.core import READY
from kefu.runtime import Runtime
from tests.conftest import PG_URL, Actor, People

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (KEFU_TEST_DATABASE_URL)")
REDIS_URL = os.environ.get("KEFU_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PORTS = (9051, 9052, 9053)
KEFU = Path(sys.executable).with_name("kefu")


@dataclass
class Cluster:
    procs: dict[int, subprocess.Popen[bytes]]
    alive: list[int] = field(default_factory=list)

    def url(self) -> str:
        return f"http://127.0.0.1:{random.choice(self.alive)}"


@pytest.fixture
def cluster(settings: Settings, tmp_path: Path) -> Iterator[Cluster]:
    env = {
        **os.environ,
        "KEFU_DATABASE_URL": settings.database_url,
        "KEFU_REDIS_URL": REDIS_URL,
        "KEFU_DATA_DIR": str(tmp_path),
        "KEFU_SECRET_KEY": "processes-test",
        "KEFU_TOKEN_CACHE_S": "0",
        "KEFU_LOG_LEVEL": "warning",
    }
    procs = {
        port: subprocess.Popen(
            [str(KEFU), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / f"kefu-{port}.log").open("wb"),
        )
        for port in PORTS
    }
    cluster = Cluster(procs, list(PORTS))
    try:
        _wait_ready(cluster)
        yield cluster
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_ready(cluster: Cluster) -> None:
    deadline = time.monotonic() + 60
    for port in PORTS:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"kefu on {port} did not start"
            time.sleep(0.2)


class Invariants:
    """Reads the routing tables in one REPEATABLE READ snapshot and lists what is wrong."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(normalise_url(url), isolation_level="REPEATABLE READ")
        self.violations: list[str] = []
        self.samples = 0

    def sample(self) -> None:
        with self.engine.connect() as db:
            seats = {
                r[0]: (r[1], r[2], r[3])
                for r in db.execute(
                    text("SELECT user_id, state, capacity, blocks FROM agent_seats")
                )
            }
            pending = db.execute(
                text(
                    "SELECT o.item_id, o.agent_id, o.ring, i.media, i.status FROM routing_offers o "
                    "JOIN routing_items i ON i.id = o.item_id WHERE o.status = 'pending'"
                )
            ).all()
            held = db.execute(
                text("SELECT agent_id, media FROM routing_items WHERE status = 'assigned'")
            ).all()
        self.samples += 1
        solo = Counter(r[0] for r in pending if not r[2])
        self.violations += [f"item {i} offered {n} times" for i, n in solo.items() if n > 1]
        load: dict[int, Counter[str]] = {}
        for item_id, agent_id, _ring, media, status in pending:
            load.setdefault(agent_id, Counter())[media] += 1
            if status != "offered":
                self.violations.append(f"pending offer of {status} item {item_id}")
            if seats[agent_id][0] not in READY:
                self.violations.append(f"pending offer to {seats[agent_id][0]} agent {agent_id}")
        for agent_id, media in held:
            load.setdefault(agent_id, Counter())[media] += 1
        for agent_id, counted in load.items():
            capacity = seats[agent_id][1]
            for media, n in counted.items():
                if n > capacity.get(media, 0):
                    self.violations.append(f"agent {agent_id} holds {n} {media}")


@dataclass
class Floor:
    cluster: Cluster
    lead: Actor
    agents: list[Actor]
    queues: list[int]
    accepted: list[int] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    enqueued: int = 0
    drained: asyncio.Event = field(default_factory=asyncio.Event)

    async def call(
        self, client: httpx.AsyncClient, method: str, path: str, who: Actor, **kw: Any
    ) -> httpx.Response | None:
        try:
            response = await client.request(
                method, self.cluster.url() + path, headers=who.headers, timeout=10, **kw
            )
        except httpx.HTTPError as exc:
            self.errors[type(exc).__name__] += 1
            return None
        if response.status_code >= 500:
            self.errors[f"{response.status_code} {method} {path.split('/')[-1]}"] += 1
        return response


def _setup(runtime: Runtime, cluster: Cluster) -> Floor:
    people = People(runtime)
    lead = people.user("supervisor")
    agents = [people.user("agent") for _ in range(10)]
    client = httpx.Client(base_url=f"http://127.0.0.1:{PORTS[0]}", headers=lead.headers)
    queues = [
        client.post("/api/v1/routing/queues", json=body).json()["id"]
        for body in (
            {"name": "chat", "strategy": "least_busy", "offer_timeout_s": 5},
            {"name": "calls", "strategy": "ring_all", "offer_timeout_s": 5},
        )
    ]
    for agent in agents:
        seat = {
            "capacity": {"chat": 2, "voice": 1, "email": 0},
            "languages": ["en"],
            "blocks": {"voice": ["chat"]},
            "cooldown_s": 1,
            "max_no_answer": 0,
        }
        assert client.patch(f"/api/v1/agents/{agent.id}/seat", json=seat).status_code == 200
        state = {"state": "available"}
        assert client.put(f"/api/v1/agents/{agent.id}/state", json=state).status_code == 200
    client.close()
    return Floor(cluster, lead, agents, queues)


async def _enqueue(floor: Floor, client: httpx.AsyncClient, count: int) -> None:
    for n in range(count):
        kind = "call" if n % 3 == 0 else "chat"
        queue = floor.queues[1] if kind == "call" else floor.queues[0]
        body = {"queue_id": queue, "kind": kind, "external_ref": f"{kind}-{n}"}
        for _attempt in range(3):
            made = await floor.call(client, "POST", "/api/v1/routing/items", floor.lead, json=body)
            if made is not None:
                assert made.status_code == 201, made.text
                floor.enqueued += 1
                break
        await asyncio.sleep(0.02)


async def _work(
    floor: Floor, client: httpx.AsyncClient, agent: Actor, until: float, chaos: bool = True
) -> None:
    rnd = random.Random(agent.id)
    mine: list[int] = []
    if not chaos:
        await floor.call(
            client, "PUT", "/api/v1/agents/me/state", agent, json={"state": "available"}
        )
    while time.monotonic() < until and not floor.drained.is_set():
        response = await floor.call(client, "GET", "/api/v1/routing/offers", agent)
        for offer in response.json() if response is not None and response.is_success else []:
            verb = "accept" if rnd.random() < 0.85 or not chaos else "reject"
            path = f"/api/v1/routing/offers/{offer['id']}/{verb}"
            answer = await floor.call(client, "POST", path, agent)
            if answer is not None and answer.status_code == 200 and verb == "accept":
                mine.append(offer["item_id"])
                floor.accepted.append(offer["item_id"])
        if not chaos:
            held = await floor.call(client, "GET", "/api/v1/agents/me/work", agent)
            mine = [w["id"] for w in held.json()] if held is not None and held.is_success else mine
        if mine and (rnd.random() < 0.5 or not chaos):
            item = mine.pop(0)
            await floor.call(client, "POST", f"/api/v1/routing/items/{item}/complete", agent)
        if chaos and rnd.random() < 0.03:
            await floor.call(
                client, "PUT", "/api/v1/agents/me/state", agent, json={"state": "after_call_work"}
            )
            await asyncio.sleep(0.1)
            await floor.call(
                client, "PUT", "/api/v1/agents/me/state", agent, json={"state": "available"}
            )
        await asyncio.sleep(0.03)
    for item in mine:
        await floor.call(client, "POST", f"/api/v1/routing/items/{item}/complete", agent)


async def _until_drained(floor: Floor, invariants: Invariants, until: float) -> None:
    query = text("SELECT count(*) FROM routing_items WHERE status <> 'completed'")
    while time.monotonic() < until:
        with invariants.engine.connect() as db:
            if db.execute(query).scalar_one() == 0:
                floor.drained.set()
                return
        await asyncio.sleep(0.5)


async def _sample(invariants: Invariants, until: float) -> None:
    while time.monotonic() < until:
        await asyncio.to_thread(invariants.sample)
        await asyncio.sleep(0.1)


def _kill_leader(cluster: Cluster, settings: Settings) -> int:
    engine = create_engine(normalise_url(settings.database_url))
    with engine.connect() as db:
        holder = db.execute(
            text("SELECT holder FROM worker_leases WHERE name = 'routing.dispatch'")
        ).scalar_one()
    engine.dispose()
    pid = int(holder.split(":")[1])
    port = next(p for p, proc in cluster.procs.items() if proc.pid == pid)
    cluster.alive.remove(port)
    os.kill(pid, signal.SIGKILL)
    return port


async def test_processes_racing_on_shared_queues(
    cluster: Cluster, sync_runtime: Runtime, settings: Settings
) -> None:
    floor = _setup(sync_runtime, cluster)
    invariants = Invariants(settings.database_url)
    start = time.monotonic()
    async with httpx.AsyncClient() as client:
        busy = [asyncio.create_task(_work(floor, client, a, start + 35)) for a in floor.agents]
        sampler = asyncio.create_task(_sample(invariants, start + 35))
        await _enqueue(floor, client, 150)
        killed = _kill_leader(cluster, settings)
        await _enqueue(floor, client, 60)
        await asyncio.gather(*busy, sampler)
        # Then everyone just works until every item is finished (or a minute passed).
        calm = time.monotonic() + 60
        watch = asyncio.create_task(_until_drained(floor, invariants, calm))
        await asyncio.gather(*(_work(floor, client, a, calm, chaos=False) for a in floor.agents))
        await watch
    invariants.sample()
    assert invariants.violations == [], invariants.violations[:10]
    assert invariants.samples > 50
    assert floor.enqueued == 210, floor.errors
    assert sum(n for e, n in floor.errors.items() if e.startswith("5")) == 0, floor.errors
    _check_history(settings, killed)
    assert Counter(floor.accepted).most_common(1)[0][1] == 1


def _check_history(settings: Settings, killed: int) -> None:
    engine = create_engine(normalise_url(settings.database_url))
    with engine.connect() as db:
        statuses = dict(
            db.execute(text("SELECT status, count(*) FROM routing_items GROUP BY status")).all()
        )
        overlaps = db.execute(
            text(
                "SELECT count(*) FROM routing_offers a JOIN routing_offers b "
                "ON a.item_id = b.item_id AND a.id < b.id AND NOT a.ring AND NOT b.ring "
                "AND b.created_at < coalesce(a.decided_at, 'infinity') "
                "AND a.created_at < coalesce(b.decided_at, 'infinity')"
            )
        ).scalar_one()
        accepted = db.execute(
            text(
                "SELECT max(n) FROM (SELECT count(*) AS n FROM routing_offers "
                "WHERE status = 'accepted' GROUP BY item_id) t"
            )
        ).scalar_one()
        seats = db.execute(text("SELECT user_id, state, reason FROM agent_seats")).all()
    engine.dispose()
    assert overlaps == 0
    assert accepted == 1
    assert statuses == {"completed": 210}, (statuses, f"killed the leader on {killed}", seats)
