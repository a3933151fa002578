"""Tickets and the router stay in step: what people do to a ticket directly (assign by
hand, solve, move team, delete) takes it out of its queue or frees the agent."""

from __future__ import annotations

from typing import Any

from tests.conftest import Actor
from tests.routing.conftest import Desk


async def routed(desk: Desk, **queue: Any) -> tuple[int, dict[str, Any], Actor]:
    team = desk.people.team()
    made = await desk.queue(name=f"team-{team}", team_id=team, **queue)
    agent = await desk.agent(teams=[team])
    return team, made, agent


async def item_of(desk: Desk, ticket_id: int) -> dict[str, Any]:
    items = await desk.call("GET", "/api/v1/routing/queues/1/items")
    found = [i for i in items if i["ticket_id"] == ticket_id]
    return found[0] if found else {}


async def test_tickets_without_a_routed_team_stay_out(desk: Desk) -> None:
    await routed(desk)
    ticket = await desk.ticket()
    other_team = desk.people.team()
    assigned = await desk.ticket(team_id=other_team)
    await desk.dispatch()
    for t in (ticket, assigned):
        refused = await desk.client.post(
            "/api/v1/routing/items",
            json={"kind": "ticket", "ticket_id": t["id"]},
            headers=desk.lead.headers,
        )
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["loc"] == ["body", "queue_id"]


async def test_assigning_by_hand_takes_the_ticket_out_of_the_queue(desk: Desk) -> None:
    team, queue, agent = await routed(desk)
    await desk.state(agent, "offline")
    colleague = desk.people.user("agent", teams=[team])
    ticket = await desk.ticket(team_id=team)
    item = await desk.enqueue(kind="ticket", ticket_id=ticket["id"])
    assert (item["status"], item["queue_id"]) == ("waiting", queue["id"])
    url = f"/api/v1/tickets/{ticket['id']}"
    await desk.call("PATCH", url, json={"assignee_id": colleague.id})
    await desk.settle()
    after = await desk.item(item["id"])
    assert (after["status"], after["end_reason"]) == ("cancelled", "assigned by hand")


async def test_solving_the_ticket_frees_the_agent(desk: Desk) -> None:
    team, _queue, agent = await routed(desk, auto_accept=True)
    ticket = await desk.ticket(team_id=team)
    await desk.dispatch()
    assert (await desk.seat(agent))["load"] == {"email": 1}
    await desk.call("PATCH", f"/api/v1/tickets/{ticket['id']}", agent, json={"status": "solved"})
    await desk.settle()
    seat = await desk.seat(agent)
    assert (seat["load"], seat["state"]) == ({}, "available")


async def test_reopened_unassigned_ticket_is_routed_again(desk: Desk) -> None:
    team, _queue, agent = await routed(desk, auto_accept=True)
    ticket = await desk.ticket(team_id=team)
    await desk.dispatch()
    url = f"/api/v1/tickets/{ticket['id']}"
    await desk.call("PATCH", url, json={"status": "solved", "assignee_id": None})
    await desk.settle()
    await desk.call("PATCH", url, json={"status": "open"})
    await desk.settle()
    await desk.dispatch()
    assert (await desk.call("GET", url))["assignee"]["id"] == agent.id


async def test_moving_the_ticket_to_another_team_moves_it_to_that_queue(desk: Desk) -> None:
    team, _queue, agent = await routed(desk)
    await desk.state(agent, "offline")
    other_team = desk.people.team()
    other_queue = await desk.queue(name="Other", team_id=other_team)
    ticket = await desk.ticket(team_id=team)
    await desk.call("PATCH", f"/api/v1/tickets/{ticket['id']}", json={"team_id": other_team})
    await desk.settle()
    items = await desk.call("GET", f"/api/v1/routing/queues/{other_queue['id']}/items")
    assert [i["ticket_id"] for i in items] == [ticket["id"]]


async def test_deleting_the_ticket_cancels_its_offer(desk: Desk) -> None:
    team, _queue, agent = await routed(desk)
    ticket = await desk.ticket(team_id=team)
    await desk.dispatch()
    offer = (await desk.offers(agent))[0]
    await desk.call("DELETE", f"/api/v1/tickets/{ticket['id']}", expect=204)
    await desk.settle()
    assert await desk.offers(agent) == []
    gone = await desk.accept(agent, offer["id"], expect=409)
    assert gone["errors"][0]["type"] == "withdrawn"


async def test_supervisor_reassigns_and_requeues(desk: Desk) -> None:
    team, _queue, agent = await routed(desk, auto_accept=True)
    other = await desk.agent(teams=[team], available=False)
    ticket = await desk.ticket(team_id=team)
    await desk.dispatch()
    fetched = await desk.call("GET", f"/api/v1/tickets/{ticket['id']}")
    assert fetched["assignee"]["id"] == agent.id
    item_id = (await desk.seat(agent))["load"] and (
        await desk.call("GET", "/api/v1/routing/items/1")
    )["id"]
    url = f"/api/v1/routing/items/{item_id}/reassign"
    moved = await desk.call("POST", url, json={"agent_id": other.id})
    assert moved["agent_id"] == other.id
    assert (await desk.call("GET", f"/api/v1/tickets/{ticket['id']}"))["assignee"]["id"] == other.id
    assert (await desk.seat(agent))["state"] == "available"
    back = await desk.call("POST", url, json={"agent_id": None})
    assert (back["status"], back["front"], back["agent_id"]) == ("waiting", True, None)
    assert (await desk.call("GET", f"/api/v1/tickets/{ticket['id']}"))["assignee"] is None
    denied = await desk.client.post(url, json={"agent_id": None}, headers=agent.headers)
    assert denied.status_code == 403


async def test_reassigning_to_a_full_agent_is_409(desk: Desk) -> None:
    queue = await desk.queue(name="Q", auto_accept=True)
    full = await desk.agent(capacity={"chat": 1})
    first = await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="a")
    await desk.dispatch()
    assert (await desk.item(first["id"]))["agent_id"] == full.id
    second = await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="b")
    url = f"/api/v1/routing/items/{second['id']}/reassign"
    await desk.call("POST", url, json={"agent_id": full.id}, expect=409)


async def test_enqueueing_twice_answers_the_same_item(desk: Desk) -> None:
    queue = await desk.queue(name="Q")
    one = await desk.enqueue(queue_id=queue["id"], kind="call", external_ref="pbx-1")
    two = await desk.enqueue(queue_id=queue["id"], kind="call", external_ref="pbx-1")
    assert one["id"] == two["id"]


async def test_bad_work_is_422_at_the_field(desk: Desk) -> None:
    cases = [
        ({"kind": "ticket"}, ["body"]),
        ({"kind": "call"}, ["body"]),
        ({"kind": "call", "external_ref": "x", "queue_id": 999}, ["body", "queue_id"]),
        ({"kind": "ticket", "ticket_id": 999}, ["body", "ticket_id"]),
        ({"kind": "call", "external_ref": "x", "media": "pigeon"}, ["body", "media"]),
        ({"kind": "call", "external_ref": "x", "skills": {"a": 0}}, ["body", "skills"]),
    ]
    for body, loc in cases:
        response = await desk.client.post(
            "/api/v1/routing/items", json=body, headers=desk.lead.headers
        )
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"][0]["loc"][: len(loc)] == loc, (body, response.json())


async def test_finishing_work_that_is_not_handled_is_409(desk: Desk) -> None:
    queue = await desk.queue(name="Q")
    item = await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="a")
    await desk.call("POST", f"/api/v1/routing/items/{item['id']}/complete", expect=409)
    await desk.call("POST", f"/api/v1/routing/items/{item['id']}/abandon")
    await desk.call("POST", f"/api/v1/routing/items/{item['id']}/abandon", expect=409)


async def test_only_the_holder_or_a_lead_finishes_work(desk: Desk) -> None:
    queue = await desk.queue(name="Q", auto_accept=True)
    holder = await desk.agent()
    stranger = await desk.agent(available=False)
    item = await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="a")
    await desk.dispatch()
    url = f"/api/v1/routing/items/{item['id']}/complete"
    await desk.call("POST", url, stranger, expect=403)
    await desk.call("POST", url, holder)


async def test_agents_route_only_tickets_they_can_see(desk: Desk) -> None:
    secret = desk.people.team(private=True)
    queue = await desk.queue(name="Secret", team_id=secret)
    outsider = desk.people.user("agent")
    ticket = await desk.ticket(team_id=secret)
    body = {"kind": "ticket", "ticket_id": ticket["id"], "queue_id": queue["id"]}
    refused = await desk.client.post("/api/v1/routing/items", json=body, headers=outsider.headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["body", "ticket_id"]


async def test_an_agent_answers_a_call_only_for_themselves(desk: Desk) -> None:
    queue = await desk.queue(name="Hotline", strategy="ring_all")
    one, two = await desk.agent(), await desk.agent()
    item = await desk.enqueue(queue_id=queue["id"], kind="call", external_ref="pbx-9")
    await desk.dispatch()
    url = f"/api/v1/routing/items/{item['id']}/answer"
    await desk.call("POST", url, one, json={"agent_id": two.id}, expect=403)
    answered = await desk.call("POST", url, one, json={"agent_id": one.id})
    assert answered["agent_id"] == one.id
