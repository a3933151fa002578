"""The router core alone (no database): strategies, scoring, timers, and property tests
over random sequences of arrivals, state changes, accepts, rejects, time-outs and
completions, checked after every step against a brute-force oracle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kefu.routing.core import (
    READY,
    AgentSpec,
    Decision,
    ItemSpec,
    Overflow,
    QueueSpec,
    Router,
    Strategy,
    Weights,
    eligible,
    fits,
    widen,
)


def router_with(*queues: QueueSpec) -> Router:
    router = Router()
    for queue in queues:
        router.upsert_queue(queue)
    return router


def test_the_best_scored_item_goes_first() -> None:
    router = router_with(QueueSpec(1, weights=Weights(1.0, {"vip": 50}, {"urgent": 100})))
    router.upsert_item(ItemSpec(1, 1, media="chat", enqueued_at=0))
    router.upsert_item(ItemSpec(2, 1, media="chat", enqueued_at=40, tier="vip"))
    router.upsert_item(ItemSpec(3, 1, media="chat", enqueued_at=60, priority="urgent"))
    assert router.score(3, 100) == (0, 140.0)
    router.upsert_agent(AgentSpec(1, capacity={"chat": 1}))
    assert [d.item_id for d in router.next_offers(100)] == [3]


def test_queues_with_other_wait_weights_compare_by_score_now() -> None:
    router = router_with(QueueSpec(1, weights=Weights(1.0)), QueueSpec(2, weights=Weights(3.0)))
    router.upsert_item(ItemSpec(1, 1, media="chat", enqueued_at=0))
    router.upsert_item(ItemSpec(2, 2, media="chat", enqueued_at=60))
    router.upsert_agent(AgentSpec(1, capacity={"chat": 1}))
    assert [d.item_id for d in router.next_offers(100)] == [2]


def test_sla_steps_reorder_items_when_they_happen() -> None:
    weights = Weights(1.0, sla_at_risk=100, sla_breached=500, sla_risk_s=60)
    router = router_with(QueueSpec(1, weights=weights))
    router.upsert_item(ItemSpec(1, 1, media="chat", enqueued_at=0))
    router.upsert_item(ItemSpec(2, 1, media="chat", enqueued_at=50, sla_due_at=200))
    router.advance(100)
    assert router.score(2, 100) == (0, 50.0)
    router.upsert_agent(AgentSpec(1, capacity={"chat": 1}))
    router.set_state(1, "offline", 100)
    router.advance(150)
    router.set_state(1, "available", 150)
    assert [d.item_id for d in router.next_offers(150)] == [2]


def test_ring_all_offers_to_every_free_agent_and_one_accepts() -> None:
    router = router_with(QueueSpec(1, strategy=Strategy.ring_all))
    for agent in (1, 2, 3):
        router.upsert_agent(AgentSpec(agent))
    router.set_state(3, "break", 0)
    router.upsert_item(ItemSpec(1, 1, media="voice"))
    [decision] = router.next_offers(1)
    assert decision.agent_ids == (1, 2)
    router.accept(1, 2)
    assert router.load(1) == {}
    assert router.load(2) == {"voice": 1}


def test_a_decline_cools_the_agent_down_and_puts_the_item_in_front() -> None:
    router = router_with(QueueSpec(1))
    router.upsert_agent(AgentSpec(1, idle_since=0))
    router.upsert_agent(AgentSpec(2, idle_since=5))
    router.upsert_item(ItemSpec(1, 1, media="chat", enqueued_at=0))
    assert router.next_offers(10)[0].agent_ids == (1,)
    router.upsert_item(ItemSpec(2, 1, media="chat", enqueued_at=1))
    router.set_state(2, "offline", 10)
    router.decline(1, 1, 10, cooldown_s=30)
    router.set_state(2, "available", 11)
    assert [(d.item_id, d.agent_ids) for d in router.next_offers(11)] == [(1, (2,)), (2, (2,))]
    assert router.item(1) is not None and router.item(1)[0].front
    assert router.next_offers(40) == []


def test_overflow_widens_then_moves() -> None:
    spill = QueueSpec(2, skills={})
    steps = (Overflow(10, "widen", level_delta=2), Overflow(30, "move", queue_id=2))
    router = router_with(QueueSpec(1, skills={"tax": 4}, overflow=steps), spill)
    router.upsert_item(ItemSpec(1, 1, media="chat", skills={"tax": 4, "vat": 1}, enqueued_at=0))
    router.advance(10)
    spec = router.item(1)
    assert spec is not None and dict(spec[0].skills) == {"tax": 2}
    router.advance(40)
    changed = router.take_changes()
    assert [(c.queue_id, dict(c.skills), c.overflow_step) for c in changed] == [(2, {}, 0)]
    assert widen({"a": 3, "b": 1}, 1) == {"a": 2}


def test_moving_between_two_queues_forever_stops() -> None:
    router = router_with(
        QueueSpec(1, overflow=(Overflow(0, "move", queue_id=2),)),
        QueueSpec(2, overflow=(Overflow(0, "move", queue_id=1),)),
    )
    router.upsert_item(ItemSpec(1, 1, media="chat"))
    router.advance(1)
    assert router.item(1) is not None


def test_a_sticky_item_waits_for_its_agent_then_for_anyone() -> None:
    router = router_with(QueueSpec(1))
    router.upsert_agent(AgentSpec(1))
    router.upsert_agent(AgentSpec(2, state="offline"))
    router.upsert_item(ItemSpec(1, 1, media="chat", sticky_agent_id=2, sticky_until=60))
    assert router.next_offers(1) == []
    router.set_state(2, "available", 2)
    assert router.next_offers(2)[0].agent_ids == (2,)
    router.upsert_item(ItemSpec(2, 1, media="chat", sticky_agent_id=3, sticky_until=60))
    assert router.next_offers(59) == []
    assert router.next_offers(60)[0].agent_ids == (1,)
    assert {(c.id, c.sticky_agent_id) for c in router.take_changes()} == {(1, None), (2, None)}


def test_blocks_keep_chat_away_during_a_call() -> None:
    assert fits({"chat": 3}, {"voice": ["chat"]}, {"chat": 1}, "chat")
    assert not fits({"chat": 3}, {"voice": ["chat"]}, {"voice": 1}, "chat")
    assert fits({"voice": 1}, {"voice": ["chat"]}, {"chat": 2}, "voice")
    assert not fits({"voice": 1}, {}, {"voice": 1}, "voice")


def test_reloading_rows_keeps_loads_right() -> None:
    router = router_with(QueueSpec(1))
    router.upsert_agent(AgentSpec(1, capacity={"chat": 2}))
    router.upsert_item(ItemSpec(1, 1, media="chat"), "assigned", [1])
    router.upsert_item(ItemSpec(1, 1, media="chat"), "assigned", [1])
    assert router.load(1) == {"chat": 1}
    router.upsert_item(ItemSpec(2, 1, media="chat"), "offered", [7])
    assert router.load(7) == {"chat": 1}
    router.remove_agent(7)
    assert router.item(2) is not None and router.item(2)[1] == "waiting"
    router.remove_item(1)
    assert router.load(1) == {}


# -- properties -----------------------------------------------------------------------------
SKILLS = ("billing", "tech", "vat")
LANGS = ("en", "zh_CN")
MEDIA = ("voice", "chat", "email")
STRATEGIES = tuple(Strategy)


@dataclass
class World:
    router: Router
    now: float = 0.0
    next_item: int = 1
    rings: set[int] = field(default_factory=set)


def agent_specs() -> st.SearchStrategy[AgentSpec]:
    return st.builds(
        AgentSpec,
        id=st.just(0),
        state=st.sampled_from(["available", "busy", "break", "offline"]),
        capacity=st.fixed_dictionaries({m: st.integers(0, 3) for m in MEDIA}),
        blocks=st.sampled_from([{}, {"voice": ["chat"]}, {"voice": ["chat", "email"]}]),
        skills=st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=3),
        languages=st.frozensets(st.sampled_from(LANGS), min_size=1),
        teams=st.frozensets(st.sampled_from([1, 2]), max_size=2),
        idle_since=st.floats(0, 10),
    )


def queue_specs() -> st.SearchStrategy[list[QueueSpec]]:
    queue = st.builds(
        QueueSpec,
        id=st.just(0),
        strategy=st.sampled_from(STRATEGIES),
        weights=st.builds(
            Weights,
            wait=st.sampled_from([0.5, 1.0, 2.0]),
            tiers=st.just({"vip": 30.0}),
            priorities=st.just({"urgent": 60.0, "low": -10.0}),
            sla_at_risk=st.sampled_from([0.0, 40.0]),
            sla_breached=st.sampled_from([0.0, 90.0]),
            sla_risk_s=st.just(20.0),
        ),
        overflow=st.sampled_from(
            [
                (),
                (Overflow(15, "widen", level_delta=2, drop_language=True),),
                (Overflow(10, "move", queue_id=2), Overflow(20, "widen")),
                (Overflow(0, "move", queue_id=1),),
            ]
        ),
        skills=st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 3), max_size=1),
        team_id=st.sampled_from([None, None, 1]),
        auto_accept=st.booleans(),
    )
    return st.lists(queue, min_size=1, max_size=3)


OPS = st.one_of(
    st.tuples(
        st.just("arrive"),
        st.integers(0, 2),
        st.sampled_from(MEDIA),
        st.sampled_from([None, *LANGS]),
        st.sampled_from(["low", "normal", "urgent"]),
        st.sampled_from(["standard", "vip"]),
        st.sampled_from([None, 30.0]),
        st.sampled_from([None, 0, 1]),
    ),
    st.tuples(st.just("state"), st.integers(0, 5), st.sampled_from(["available", "break"])),
    st.tuples(st.just("accept"), st.integers(0, 50)),
    st.tuples(st.just("decline"), st.integers(0, 50), st.sampled_from([0.0, 10.0])),
    st.tuples(st.just("complete"), st.integers(0, 50)),
    st.tuples(st.just("abandon"), st.integers(0, 50)),
    st.tuples(st.just("wait"), st.floats(0.5, 25)),
    st.tuples(st.just("skills"), st.integers(0, 5), agent_specs()),
)


def build(queues: list[QueueSpec], agents: list[AgentSpec]) -> World:
    router = Router()
    for n, queue in enumerate(queues, 1):
        queue.id = n
        router.upsert_queue(queue)
    for n, agent in enumerate(agents, 1):
        agent.id = n
        router.upsert_agent(agent)
    return World(router)


def pick(ids: list[int], index: int) -> int | None:
    return sorted(ids)[index % len(ids)] if ids else None


def with_status(world: World, status: str) -> list[int]:
    found = []
    for item_id in world.router.item_ids:
        item = world.router.item(item_id)
        if item is not None and item[1] == status:
            found.append(item_id)
    return found


def step(world: World, op: tuple[Any, ...]) -> None:
    router, kind = world.router, op[0]
    if kind == "arrive":
        _, queue, media, lang, priority, tier, sla, sticky = op
        queue_id = 1 + queue % len([q for q in (1, 2, 3) if router.queue(q)])
        spec = router.queue(queue_id)
        assert spec is not None
        router.upsert_item(
            ItemSpec(
                world.next_item,
                queue_id,
                media=media,
                skills=dict(spec.skills),
                language=lang,
                team_id=spec.team_id,
                priority=priority,
                tier=tier,
                enqueued_at=world.now,
                sla_due_at=None if sla is None else world.now + sla,
                sticky_agent_id=None if sticky is None else sticky + 1,
                sticky_until=world.now + 20,
            )
        )
        world.next_item += 1
    elif kind == "state":
        agent_id = pick(router.agent_ids, op[1])
        if agent_id is not None:
            router.set_state(agent_id, op[2], world.now)
            if op[2] not in READY:
                router.withdraw_all(agent_id, world.now)
    elif kind in ("accept", "decline"):
        item_id = pick(with_status(world, "offered"), op[1])
        if item_id is not None:
            item = router.item(item_id)
            assert item is not None
            agent_id = sorted(item[2])[op[1] % len(item[2])]
            if kind == "accept":
                router.accept(item_id, agent_id)
            else:
                router.decline(item_id, agent_id, world.now, op[2])
    elif kind in ("complete", "abandon"):
        status = "assigned" if kind == "complete" else "waiting"
        item_id = pick(with_status(world, status), op[1])
        if item_id is not None:
            router.remove_item(item_id)
    elif kind == "wait":
        world.now += op[1]
    elif kind == "skills":
        agent_id = pick(router.agent_ids, op[1])
        current = router.agent(agent_id) if agent_id is not None else None
        if current is not None:
            spec = op[2]
            router.upsert_agent(
                AgentSpec(
                    current.id,
                    state=current.state,
                    capacity=spec.capacity,
                    blocks=spec.blocks,
                    skills=spec.skills,
                    languages=spec.languages,
                    teams=spec.teams,
                    idle_since=current.idle_since,
                    cooldown_until=current.cooldown_until,
                )
            )


def loads(world: World) -> dict[int, dict[str, int]]:
    """Every agent's load, counted from the items themselves."""
    counted: dict[int, dict[str, int]] = {a: {} for a in world.router.agent_ids}
    for item_id in world.router.item_ids:
        item = world.router.item(item_id)
        assert item is not None
        spec, status, agents = item
        for agent_id in agents if status != "waiting" else ():
            counted[agent_id][spec.media] = counted[agent_id].get(spec.media, 0) + 1
    return counted


def could_take(world: World, agent_id: int, item_id: int, load: dict[str, int]) -> bool:
    router = world.router
    agent, item = router.agent(agent_id), router.item(item_id)
    assert agent is not None and item is not None
    spec = item[0]
    if agent.state not in READY or agent.cooldown_until > router.now:
        return False
    reserved = spec.sticky_agent_id if spec.sticky_until > router.now else None
    key = (
        spec.queue_id,
        spec.media,
        tuple(sorted(spec.skills.items())),
        spec.language,
        spec.team_id,
        reserved,
    )
    return eligible(agent, key) and fits(agent.capacity, agent.blocks, load, spec.media)


def check_decisions(world: World, before: dict[int, dict[str, int]], made: list[Decision]) -> None:
    """Each decision was allowed when made, and offered the best item the agent could take."""
    router, replay = world.router, {a: dict(m) for a, m in before.items()}
    waiting = set(with_status(world, "waiting")) | {d.item_id for d in made}
    for decision in made:
        item = router.item(decision.item_id)
        assert item is not None
        media = item[0].media
        for agent_id in decision.agent_ids:
            assert could_take(world, agent_id, decision.item_id, replay[agent_id]), decision
        if len(decision.agent_ids) == 1:
            agent_id = decision.agent_ids[0]
            rivals = [i for i in waiting if could_take(world, agent_id, i, replay[agent_id])]
            best = max(router.score(i, world.now) for i in rivals)
            assert router.score(decision.item_id, world.now) >= best
        for agent_id in decision.agent_ids:
            replay[agent_id][media] = replay[agent_id].get(media, 0) + 1
        waiting.discard(decision.item_id)


def check_invariants(world: World) -> None:
    router = world.router
    counted = loads(world)
    for agent_id in router.agent_ids:
        assert router.load(agent_id) == {m: n for m, n in counted[agent_id].items() if n}
    for item_id in router.item_ids:
        item = router.item(item_id)
        assert item is not None
        _spec, status, agents = item
        if status == "offered" and item_id not in world.rings:
            assert len(agents) == 1, (item_id, agents)
        assert (status == "waiting") == (not agents)
    for item_id in with_status(world, "waiting"):
        for agent_id in router.agent_ids:
            assert not could_take(world, agent_id, item_id, counted[agent_id]), (item_id, agent_id)


def check_capacity_kept(world: World, before: dict[int, dict[str, int]]) -> None:
    """Nobody went over capacity unless they already were (a capacity lowered by hand)."""
    for agent_id, load in loads(world).items():
        agent = world.router.agent(agent_id)
        assert agent is not None
        for media, n in load.items():
            assert n <= max(agent.capacity.get(media, 0), before.get(agent_id, {}).get(media, 0))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    queues=queue_specs(),
    agents=st.lists(agent_specs(), min_size=1, max_size=5),
    ops=st.lists(OPS, max_size=40),
)
def test_router_invariants_hold_after_every_step(
    queues: list[QueueSpec], agents: list[AgentSpec], ops: list[tuple[Any, ...]]
) -> None:
    world = build(queues, agents)
    for op in ops:
        step(world, op)
        before = loads(world)
        made = world.router.next_offers(world.now)
        world.rings |= {d.item_id for d in made if len(d.agent_ids) > 1}
        check_decisions(world, before, made)
        check_invariants(world)
        check_capacity_kept(world, before)
