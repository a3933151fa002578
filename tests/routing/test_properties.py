"""Property tests through the real API and database: random sequences of arrivals, state
changes, accepts, rejects, time-outs, completions and abandons. After every step the
database must hold the invariants; after every dispatch nothing may wait while an agent
who could take it is free."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from kefu.config import Settings
from kefu.kit.time import FrozenClock
from kefu.main import create_app
from kefu.routing.core import READY, AgentSpec, eligible, fits
from kefu.routing.engine import TASK_NAME
from kefu.routing.models import AgentSeat, Offer, WorkItem
from kefu.runtime import Runtime
from tests.conftest import Actor, People

QUEUES = [
    {"name": "general", "strategy": "longest_idle", "offer_timeout_s": 20},
    {"name": "billing", "strategy": "least_busy", "skills": {"billing": 2}, "offer_timeout_s": 15},
    {"name": "hotline", "strategy": "ring_all", "offer_timeout_s": 10},
    {"name": "mail", "strategy": "round_robin", "auto_accept": True},
]
SEATS = [
    {
        "skills": {"billing": 3},
        "languages": ["en"],
        "capacity": {"voice": 1, "chat": 2, "email": 2},
    },
    {"skills": {"billing": 1}, "languages": ["en", "zh_CN"], "blocks": {"voice": ["chat"]}},
    {
        "skills": {},
        "languages": ["zh_CN"],
        "capacity": {"voice": 1, "chat": 1, "email": 0},
        "max_no_answer": 2,
    },
]


class Floor:
    """Queues and agents made once; each example starts from everyone offline, no work."""

    def __init__(self, tc: TestClient) -> None:
        self.tc = tc
        self.runtime: Runtime = tc.app.state.runtime  # type: ignore[attr-defined]
        self.clock: FrozenClock = self.runtime.clock  # type: ignore[assignment]
        people = People(self.runtime)
        self.lead = people.user("supervisor")
        self.queues = [self.post("/api/v1/routing/queues", q)["id"] for q in QUEUES]
        self.agents = [people.user("agent") for _ in SEATS]
        for agent, seat in zip(self.agents, SEATS, strict=True):
            self.tc.patch(f"/api/v1/agents/{agent.id}/seat", json=seat, headers=self.lead.headers)
        self.refs = 0

    def post(self, url: str, body: dict[str, Any], actor: Actor | None = None) -> Any:
        response = self.tc.post(url, json=body, headers=(actor or self.lead).headers)
        assert response.status_code in (200, 201, 409), response.text
        return response.json()

    def dispatch(self) -> None:
        assert self.tc.portal is not None
        assert self.tc.portal.call(self.runtime.scheduler.run_once, TASK_NAME)

    def reset(self) -> None:
        for agent in self.agents:
            self.tc.put(
                f"/api/v1/agents/{agent.id}/state",
                json={"state": "offline"},
                headers=self.lead.headers,
            )
        for item in self.rows(WorkItem):
            if item.status in ("waiting", "offered"):
                self.post(f"/api/v1/routing/items/{item.id}/abandon", {})
            elif item.status == "assigned":
                self.post(f"/api/v1/routing/items/{item.id}/complete", {})
        self.clock.advance(seconds=60)
        self.dispatch()

    def rows(self, model: Any) -> list[Any]:
        def read(ctx: Any) -> list[Any]:
            found = list(ctx.session.scalars(select(model)))
            for row in found:
                ctx.session.expunge(row)
            return found

        return self.runtime.db.run_read(read)

    def pending(self) -> list[Offer]:
        return sorted((o for o in self.rows(Offer) if o.status == "pending"), key=lambda o: o.id)

    def actor(self, user_id: int) -> Actor:
        return next(a for a in self.agents if a.id == user_id)


@pytest.fixture
def floor(settings: Settings, clock: FrozenClock) -> Iterator[Floor]:
    with TestClient(create_app(settings, clock), base_url="http://kefu.test") as tc:
        yield Floor(tc)


def run(floor: Floor, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "arrive":
        floor.refs += 1
        body = {
            "queue_id": floor.queues[op[1]],
            "kind": op[2],
            "external_ref": f"r{floor.refs}",
            "language": op[3],
        }
        floor.post("/api/v1/routing/items", body)
    elif kind == "state":
        agent = floor.agents[op[1]]
        reason = "missed_offers" if op[2] == "break" else None
        floor.tc.put(
            "/api/v1/agents/me/state",
            json={"state": op[2], "reason": reason},
            headers=agent.headers,
        )
    elif kind in ("accept", "reject"):
        pending = floor.pending()
        if pending:
            offer = pending[op[1] % len(pending)]
            url = f"/api/v1/routing/offers/{offer.id}/{kind}"
            floor.post(url, {}, floor.actor(offer.agent_id))
    elif kind in ("complete", "abandon"):
        status = ("assigned",) if kind == "complete" else ("waiting", "offered")
        items = sorted(i.id for i in floor.rows(WorkItem) if i.status in status)
        if items:
            floor.post(f"/api/v1/routing/items/{items[op[1] % len(items)]}/{kind}", {})
    elif kind == "wait":
        floor.clock.advance(seconds=op[1])
    if kind in ("dispatch", "wait"):
        floor.dispatch()


def check(floor: Floor, dispatched: bool) -> None:
    items = {i.id: i for i in floor.rows(WorkItem)}
    seats = {s.user_id: s for s in floor.rows(AgentSeat)}
    pending = floor.pending()
    per_item = Counter(o.item_id for o in pending if not o.ring)
    assert all(n == 1 for n in per_item.values()), per_item
    load: dict[int, Counter[str]] = {uid: Counter() for uid in seats}
    for offer in pending:
        assert items[offer.item_id].status == "offered", offer.item_id
        assert seats[offer.agent_id].state in READY, offer.agent_id
        load[offer.agent_id][items[offer.item_id].media] += 1
    for item in items.values():
        holders = [o for o in pending if o.item_id == item.id]
        assert (item.status == "offered") == bool(holders), item.id
        if item.status == "assigned":
            assert item.agent_id is not None
            load[item.agent_id][item.media] += 1
    for uid, counted in load.items():
        for media, n in counted.items():
            assert n <= seats[uid].capacity.get(media, 0), (uid, media, n)
    if dispatched:
        _nothing_waits_for_a_free_agent(floor, items, seats, load)


def _nothing_waits_for_a_free_agent(
    floor: Floor, items: dict[int, WorkItem], seats: dict[int, AgentSeat], load: Any
) -> None:
    now = floor.clock.now()
    free = [s for s in seats.values() if s.state in READY and not _cooling(s, now)]
    for item in (i for i in items.values() if i.status == "waiting"):
        key = (
            item.queue_id,
            item.media,
            tuple(sorted(item.skills.items())),
            item.language,
            item.team_id,
            None,
        )
        for seat in free:
            spec = AgentSpec(seat.user_id, skills=seat.skills, languages=frozenset(seat.languages))
            could = eligible(spec, key) and fits(
                seat.capacity, seat.blocks, load[seat.user_id], item.media
            )
            assert not could, (item.id, seat.user_id)


def _cooling(seat: AgentSeat, now: datetime) -> bool:
    return seat.cooldown_until is not None and seat.cooldown_until > now


OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("arrive"),
            st.integers(0, len(QUEUES) - 1),
            st.sampled_from(["chat", "call", "task"]),
            st.sampled_from(["en", "zh_CN"]),
        ),
        st.tuples(
            st.just("state"),
            st.integers(0, len(SEATS) - 1),
            st.sampled_from(["available", "available", "break", "offline", "after_call_work"]),
        ),
        st.tuples(st.sampled_from(["accept", "reject", "complete", "abandon"]), st.integers(0, 9)),
        st.tuples(st.just("wait"), st.integers(1, 25)),
        st.tuples(st.just("dispatch")),
    ),
    min_size=5,
    max_size=30,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS)
def test_database_invariants_under_random_operations(floor: Floor, ops: list[Any]) -> None:
    floor.reset()
    for op in ops:
        run(floor, op)
        check(floor, dispatched=op[0] in ("dispatch", "wait"))
    floor.dispatch()
    check(floor, dispatched=True)
