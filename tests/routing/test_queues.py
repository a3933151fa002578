"""Queues over HTTP: CRUD and its refusals, the flag on a queue nobody could serve,
strategies, priority scoring, overflow, stickiness, statistics and the wallboard."""

from __future__ import annotations

from typing import Any

import pytest

from tests.routing.conftest import Desk

QUEUES = "/api/v1/routing/queues"


async def test_queue_crud(desk: Desk) -> None:
    team = desk.people.team()
    made = await desk.queue(
        name="Refunds",
        team_id=team,
        skills={"Refunds": 2},
        strategy="best_skill",
        overflow=[{"after_s": 60, "action": "widen", "level_delta": 1}],
    )
    assert made["skills"] == {"refunds": 2}
    assert made["weights"]["priorities"]["urgent"] == 180
    assert (made["servable"], len(made["warnings"])) == (False, 1)
    listed = await desk.call("GET", QUEUES)
    assert [q["name"] for q in listed] == ["Refunds"]
    changed = await desk.call(
        "PATCH", f"{QUEUES}/{made['id']}", json={"offer_timeout_s": 45, "team_id": None}
    )
    assert (changed["offer_timeout_s"], changed["team_id"], changed["version"]) == (45, None, 2)
    await desk.call("DELETE", f"{QUEUES}/{made['id']}", expect=204)
    await desk.call("GET", f"{QUEUES}/{made['id']}", expect=404)


async def test_a_queue_no_agent_could_serve_is_accepted_but_flagged(desk: Desk) -> None:
    queue = await desk.queue(name="Klingon", skills={"klingon": 5})
    assert queue["servable"] is False
    assert "klingon" in queue["warnings"][0]
    stats = await desk.call("GET", f"{QUEUES}/{queue['id']}/stats")
    assert stats["servable"] is False
    await desk.agent(skills={"klingon": 5})
    assert (await desk.call("GET", f"{QUEUES}/{queue['id']}"))["servable"] is True


@pytest.mark.parametrize(
    ("body", "status", "loc"),
    [
        ({"name": ""}, 422, ["body", "name"]),
        ({"name": "x", "strategy": "random"}, 422, ["body", "strategy"]),
        ({"name": "x", "offer_timeout_s": 1}, 422, ["body", "offer_timeout_s"]),
        ({"name": "x", "team_id": 424242}, 422, ["body", "team_id"]),
        ({"name": "x", "weights": {"priorities": {"meh": 3}}}, 422, ["body", "weights"]),
        ({"name": "x", "overflow": [{"after_s": 5, "action": "move"}]}, 422, ["body", "overflow"]),
        (
            {"name": "x", "overflow": [{"after_s": 5, "action": "move", "queue_id": 999}]},
            422,
            ["body", "overflow", 0, "queue_id"],
        ),
    ],
)
async def test_bad_queues_are_refused_at_the_field(
    desk: Desk, body: dict[str, Any], status: int, loc: list[Any]
) -> None:
    response = await desk.client.post(QUEUES, json=body, headers=desk.lead.headers)
    assert response.status_code == status, response.text
    found = [e["loc"] for e in response.json()["errors"]]
    assert any(f[: len(loc)] == loc for f in found), found


async def test_only_leads_manage_queues_and_only_staff_read_them(desk: Desk) -> None:
    agent = desk.people.user("agent")
    denied = await desk.client.post(QUEUES, json={"name": "x"}, headers=agent.headers)
    assert denied.status_code == 403
    assert (await desk.client.get(QUEUES, headers=agent.headers)).status_code == 200
    engineer = desk.people.user("field_engineer")
    assert (await desk.client.get(QUEUES, headers=engineer.headers)).status_code == 403


async def test_names_are_unique_and_queues_with_work_stay(desk: Desk) -> None:
    queue = await desk.queue(name="Same")
    again = await desk.client.post(QUEUES, json={"name": "Same"}, headers=desk.lead.headers)
    assert again.status_code == 409
    await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="c")
    busy = await desk.client.delete(f"{QUEUES}/{queue['id']}", headers=desk.lead.headers)
    assert busy.status_code == 409


async def test_longest_idle_agent_first(desk: Desk) -> None:
    queue = await desk.queue(name="Q", strategy="longest_idle")
    agents = []
    for _ in range(3):
        agents.append(await desk.agent())
        desk.clock.advance(seconds=1)
    for n in range(3):
        await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref=f"c{n}")
        await desk.dispatch()
    got = [[o["external_ref"] for o in await desk.offers(a)] for a in agents]
    assert got == [["c0"], ["c1"], ["c2"]]


async def test_best_skill_match_wins(desk: Desk) -> None:
    queue = await desk.queue(name="Q", strategy="best_skill", skills={"tax": 1})
    weak = await desk.agent(skills={"tax": 1})
    strong = await desk.agent(skills={"tax": 5})
    await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="c")
    await desk.dispatch()
    assert await desk.offers(weak) == []
    assert len(await desk.offers(strong)) == 1


async def test_least_busy_relative_to_capacity(desk: Desk) -> None:
    queue = await desk.queue(name="Q", strategy="least_busy", auto_accept=True)
    roomy = await desk.agent(capacity={"chat": 4})
    desk.clock.advance(seconds=1)
    small = await desk.agent(capacity={"chat": 2})
    for n in range(3):
        await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref=f"c{n}")
        await desk.dispatch()
    assert (await desk.seat(roomy))["load"] == {"chat": 2}
    assert (await desk.seat(small))["load"] == {"chat": 1}


async def test_round_robin_takes_turns(desk: Desk) -> None:
    queue = await desk.queue(name="Q", strategy="round_robin", auto_accept=True)
    agents = [await desk.agent(capacity={"chat": 5}) for _ in range(3)]
    for n in range(6):
        await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref=f"c{n}")
        await desk.dispatch()
    assert [(await desk.seat(a))["load"] for a in agents] == [{"chat": 2}] * 3


async def test_vip_and_urgent_work_jumps_the_line(desk: Desk) -> None:
    queue = await desk.queue(name="Q", weights={"tiers": {"vip": 300}, "priorities": {"urgent": 0}})
    plain = await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="plain")
    desk.clock.advance(seconds=100)
    vip = await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="vip", tier="vip")
    agent = await desk.agent(capacity={"chat": 1})
    await desk.dispatch()
    assert [o["item_id"] for o in await desk.offers(agent)] == [vip["id"]]
    assert (await desk.item(plain["id"]))["status"] == "waiting"


async def test_language_is_matched(desk: Desk) -> None:
    queue = await desk.queue(name="Q")
    english = await desk.agent(languages=["en"])
    chinese = await desk.agent(languages=["zh_CN"])
    item = await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="c", language="zh")
    assert item["language"] == "zh_CN"
    await desk.dispatch()
    assert await desk.offers(english) == []
    assert [o["item_id"] for o in await desk.offers(chinese)] == [item["id"]]


async def test_overflow_widens_then_moves(desk: Desk) -> None:
    spill = await desk.queue(name="Spill")
    queue = await desk.queue(
        name="Experts",
        skills={"tax": 4},
        overflow=[
            {"after_s": 30, "action": "widen", "level_delta": 2},
            {"after_s": 90, "action": "move", "queue_id": spill["id"]},
        ],
    )
    junior = await desk.agent(skills={"tax": 2}, available=False)
    anyone = await desk.agent(available=False)
    item = await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="c")
    await desk.dispatch()
    await desk.later(30)
    widened = await desk.item(item["id"])
    assert (widened["skills"], widened["status"]) == ({"tax": 2}, "waiting")
    await desk.state(junior, "available")
    await desk.dispatch()
    assert [o["item_id"] for o in await desk.offers(junior)] == [item["id"]]
    await desk.reject(junior, (await desk.offers(junior))[0]["id"])
    await desk.state(junior, "offline")
    await desk.later(60)
    moved = await desk.item(item["id"])
    assert (moved["queue_id"], moved["skills"]) == (spill["id"], {})
    await desk.state(anyone, "available")
    await desk.dispatch()
    assert [o["item_id"] for o in await desk.offers(anyone)] == [item["id"]]


async def test_sticky_agent_gets_the_returning_customer(desk: Desk) -> None:
    team = desk.people.team()
    await desk.queue(
        name="Care", team_id=team, sticky_window_s=86400, sticky_wait_s=60, auto_accept=True
    )
    first = await desk.agent(teams=[team], capacity={"email": 1})
    ticket = await desk.ticket(team_id=team)
    await desk.dispatch()
    desk.clock.advance(seconds=1)
    other = await desk.agent(teams=[team])
    await desk.call("PATCH", f"/api/v1/tickets/{ticket['id']}", json={"status": "solved"})
    await desk.settle()
    await desk.state(first, "break", "missed_offers")
    second = await desk.ticket(team_id=team)
    await desk.dispatch()
    held = await desk.call("GET", f"/api/v1/tickets/{second['id']}")
    assert held["assignee"] is None
    await desk.state(first, "available")
    await desk.dispatch()
    assert (await desk.call("GET", f"/api/v1/tickets/{second['id']}"))["assignee"]["id"] == first.id
    assert (await desk.seat(other))["load"] == {}


async def test_sticky_hold_ends_and_anyone_may_take_it(desk: Desk) -> None:
    team = desk.people.team()
    await desk.queue(
        name="Care", team_id=team, sticky_window_s=86400, sticky_wait_s=60, auto_accept=True
    )
    first = await desk.agent(teams=[team])
    ticket = await desk.ticket(team_id=team)
    await desk.dispatch()
    await desk.call("PATCH", f"/api/v1/tickets/{ticket['id']}", json={"status": "solved"})
    await desk.state(first, "offline")
    other = await desk.agent(teams=[team])
    second = await desk.ticket(team_id=team)
    await desk.dispatch()
    assert (await desk.call("GET", f"/api/v1/tickets/{second['id']}"))["assignee"] is None
    await desk.later(60)
    assert (await desk.call("GET", f"/api/v1/tickets/{second['id']}"))["assignee"]["id"] == other.id


async def test_statistics_of_a_queue(desk: Desk) -> None:
    queue = await desk.queue(name="Stats", sl_threshold_s=20, auto_accept=True)
    url = f"{QUEUES}/{queue['id']}/stats"
    quick = await desk.enqueue(queue_id=queue["id"], kind="call", external_ref="a")
    slow = await desk.enqueue(queue_id=queue["id"], kind="call", external_ref="b")
    lost = await desk.enqueue(queue_id=queue["id"], kind="call", external_ref="c")
    desk.clock.advance(seconds=30)
    waiting = await desk.call("GET", url)
    assert (waiting["waiting"], waiting["longest_wait_s"]) == (3, 30)
    await desk.call("POST", f"/api/v1/routing/items/{lost['id']}/abandon")
    agent = await desk.agent(capacity={"voice": 1})
    await desk.dispatch()
    assert (await desk.item(quick["id"]))["status"] == "assigned"
    await desk.call("POST", f"/api/v1/routing/items/{quick['id']}/complete", agent)
    desk.clock.advance(seconds=30)
    await desk.dispatch()
    assert (await desk.item(slow["id"]))["wait_s"] == 60
    stats = await desk.call("GET", url)
    assert (stats["answered"], stats["abandoned"], stats["waiting"]) == (2, 1, 0)
    assert stats["service_level"] == 0
    assert stats["abandon_rate"] == pytest.approx(1 / 3)
    assert stats["asa_s"] == 45
    assert stats["agents"] == {"busy": 1}


async def test_wallboard_for_supervisors(desk: Desk) -> None:
    await desk.queue(name="One")
    agent = await desk.agent()
    board = await desk.call("GET", "/api/v1/routing/wallboard")
    assert [q["name"] for q in board["queues"]] == ["One"]
    assert [(a["user_id"], a["state"]) for a in board["agents"]] == [(agent.id, "available")]
    denied = await desk.client.get("/api/v1/routing/wallboard", headers=agent.headers)
    assert denied.status_code == 403
