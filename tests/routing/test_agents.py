"""Agent seats over HTTP: the state contract, break reasons, supervisors, seat settings,
state history (occupancy), and presence (a browser that goes quiet)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Actor
from tests.routing.conftest import Desk

STATE = "/api/v1/agents/me/state"


def locs(response: httpx.Response) -> list[list[object]]:
    assert response.headers["content-type"].startswith("application/problem+json")
    return [e["loc"] for e in response.json().get("errors") or []]


async def put_state(desk: Desk, actor: Actor, body: dict[str, object]) -> httpx.Response:
    return await desk.client.put(STATE, json=body, headers=actor.headers)


async def test_set_my_state_and_read_it_back(desk: Desk, agent: Actor) -> None:
    seat = await desk.seat(agent)
    assert (seat["state"], seat["capacity"]) == ("offline", {"voice": 1, "chat": 3, "email": 10})
    changed = await put_state(desk, agent, {"state": "available"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["state"] == "available"
    assert (await desk.seat(agent))["state"] == "available"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"state": "sleeping"}, ["body", "state"]),
        ({"state": "busy"}, ["body", "state"]),
        ({"state": "break"}, ["body", "reason"]),
        ({"state": "break", "reason": "karaoke"}, ["body", "reason"]),
        ({"state": "available", "reason": "lunch"}, ["body", "reason"]),
        ({"state": "available", "mood": "great"}, ["body", "mood"]),
    ],
)
async def test_unknown_state_or_reason_is_422(
    desk: Desk, agent: Actor, body: dict[str, object], loc: list[object]
) -> None:
    await desk.call(
        "POST", "/api/v1/routing/break-reasons", json={"code": "lunch", "label": "L"}, expect=201
    )
    response = await put_state(desk, agent, body)
    assert response.status_code == 422, response.text
    assert loc in locs(response)


async def test_break_with_an_admin_defined_reason(desk: Desk, agent: Actor) -> None:
    reason = {"code": "training", "label": "Training"}
    await desk.call("POST", "/api/v1/routing/break-reasons", json=reason, expect=201)
    again = await desk.client.post(
        "/api/v1/routing/break-reasons", json=reason, headers=desk.lead.headers
    )
    assert again.status_code == 409
    seat = await desk.state(agent, "break", "training")
    assert (seat["state"], seat["reason"]) == ("break", "training")
    listed = await desk.call("GET", "/api/v1/routing/break-reasons", agent)
    assert {r["code"]: r["system"] for r in listed} == {"training": False, "missed_offers": True}
    await desk.call("PATCH", "/api/v1/routing/break-reasons/training", json={"active": False})
    refused = await put_state(desk, agent, {"state": "break", "reason": "training"})
    assert refused.status_code == 422
    forbidden = await desk.client.post(
        "/api/v1/routing/break-reasons", json={"code": "nap", "label": "Nap"}, headers=agent.headers
    )
    assert forbidden.status_code == 403


async def test_supervisors_change_others_state_agents_do_not(desk: Desk, agent: Actor) -> None:
    other = desk.people.user("agent")
    url = f"/api/v1/agents/{other.id}/state"
    denied = await desk.client.put(url, json={"state": "available"}, headers=agent.headers)
    assert denied.status_code == 403
    seat = await desk.call("PUT", url, json={"state": "available"})
    assert seat["state"] == "available"
    history = await desk.call("GET", f"/api/v1/agents/{other.id}/states")
    assert [(s["state"], s["source"]) for s in history["spans"]] == [
        ("offline", "system"),
        ("available", "supervisor"),
    ]
    hidden = await desk.client.get(f"/api/v1/agents/{other.id}/states", headers=agent.headers)
    assert hidden.status_code == 403


async def test_field_engineers_have_no_seat(desk: Desk) -> None:
    engineer = desk.people.user("field_engineer")
    response = await put_state(desk, engineer, {"state": "available"})
    assert response.status_code == 403


async def test_seat_settings_are_validated(desk: Desk, agent: Actor) -> None:
    url = f"/api/v1/agents/{agent.id}/seat"
    cases = [
        ({"capacity": {"fax": 1}}, ["body", "capacity", "fax", "[key]"]),
        ({"capacity": {"chat": 500}}, ["body", "capacity"]),
        ({"skills": {"billing": 11}}, ["body", "skills"]),
        ({"skills": {"Bad Name!": 1}}, ["body", "skills"]),
        ({"languages": ["english language"]}, ["body", "languages"]),
        ({"blocks": {"voice": ["pigeon"]}}, ["body", "blocks", "voice", 0]),
    ]
    for body, loc in cases:
        response = await desk.client.patch(url, json=body, headers=desk.lead.headers)
        assert response.status_code == 422, (body, response.text)
        assert any(found[: len(loc)] == loc for found in locs(response)), response.json()
    seat = await desk.call(
        "PATCH", url, json={"skills": {"Billing": 3}, "languages": ["zh", "ja"], "max_no_answer": 0}
    )
    assert (seat["skills"], seat["languages"], seat["max_no_answer"]) == (
        {"billing": 3},
        ["ja", "zh_CN"],
        0,
    )
    denied = await desk.client.patch(url, json={"skills": {}}, headers=agent.headers)
    assert denied.status_code == 403


async def test_state_history_gives_occupancy(desk: Desk, agent: Actor) -> None:
    queue = await desk.queue(name="Q", auto_accept=True)
    await desk.state(agent, "available")
    desk.clock.advance(minutes=10)
    item = await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="x")
    await desk.dispatch()
    assert (await desk.seat(agent))["state"] == "busy"
    desk.clock.advance(minutes=30)
    await desk.call("POST", f"/api/v1/routing/items/{item['id']}/complete", agent)
    desk.clock.advance(minutes=20)
    await desk.state(agent, "offline")
    history = await desk.call("GET", f"/api/v1/agents/{agent.id}/states", agent)
    assert history["seconds"]["available"] == 30 * 60
    assert history["seconds"]["busy"] == 30 * 60
    assert history["occupancy"] == pytest.approx(0.5)
    assert [s["state"] for s in history["spans"]] == [
        "offline",
        "available",
        "busy",
        "available",
        "offline",
    ]


async def test_a_quiet_browser_sets_the_agent_offline_and_returns_offers(desk: Desk) -> None:
    queue = await desk.queue(name="Chat", offer_timeout_s=600)
    gone = await desk.agent()
    await desk.call("POST", "/api/v1/agents/me/heartbeat", gone, expect=204)
    newer = await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="new")
    await desk.dispatch()
    assert [o["item_id"] for o in await desk.offers(gone)] == [newer["id"]]
    desk.clock.advance(seconds=1)
    later = await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="later")
    await desk.later(44)
    assert (await desk.seat(gone))["state"] == "available"
    await desk.later(2)
    seat = await desk.seat(gone)
    assert (seat["state"], seat["heartbeat_at"]) == ("offline", None)
    assert (await desk.item(newer["id"]))["front"] is True
    helper = await desk.agent(capacity={"chat": 1})
    await desk.dispatch()
    assert [o["item_id"] for o in await desk.offers(helper)] == [newer["id"]]
    assert (await desk.item(later["id"]))["status"] == "waiting"


async def test_agents_without_the_socket_are_never_timed_out(desk: Desk) -> None:
    agent = await desk.agent()
    await desk.later(3600)
    assert (await desk.seat(agent))["state"] == "available"


async def test_a_deactivated_agent_gets_no_more_offers(desk: Desk) -> None:
    queue = await desk.queue(name="Chat")
    leaving = await desk.agent()
    await desk.dispatch()
    admin = desk.people.user("admin")
    await desk.call("PATCH", f"/api/v1/users/{leaving.id}", admin, json={"is_active": False})
    await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="c")
    await desk.dispatch()
    stats = await desk.call("GET", f"/api/v1/routing/queues/{queue['id']}/stats")
    assert (stats["waiting"], stats["offered"]) == (1, 0)


async def test_saying_available_ends_a_cool_down_at_once(desk: Desk) -> None:
    queue = await desk.queue(name="Chat")
    agent = await desk.agent(cooldown_s=60)
    item = await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="c")
    await desk.dispatch()
    await desk.reject(agent, (await desk.offers(agent))[0]["id"])
    await desk.dispatch()
    assert await desk.offers(agent) == []
    await desk.state(agent, "available")
    await desk.dispatch()
    assert [o["item_id"] for o in await desk.offers(agent)] == [item["id"]]
