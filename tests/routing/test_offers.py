"""Work flowing through the router over HTTP: tickets in, offers out, accept, reject,
time-outs, auto-accept, wrap-up, and the 409s of offers that are gone."""

from __future__ import annotations

from tests.routing.conftest import Desk

QUEUES = "/api/v1/routing/queues"


async def test_ticket_of_a_routed_team_is_offered_and_accepting_assigns_it(desk: Desk) -> None:
    team = desk.people.team()
    queue = await desk.queue(name="Billing", team_id=team, skills={"billing": 2})
    agent = await desk.agent(skills={"billing": 3}, teams=[team])
    ticket = await desk.ticket(team_id=team)
    await desk.dispatch()
    offers = await desk.offers(agent)
    assert [o["ticket_id"] for o in offers] == [ticket["id"]]
    offer = offers[0]
    assert offer["queue_id"] == queue["id"]
    assert offer["title"].endswith(ticket["subject"])
    assert offer["seconds_left"] == 30
    item = await desk.accept(agent, offer["id"])
    assert item["status"] == "assigned"
    assert item["agent_id"] == agent.id
    fetched = await desk.call("GET", f"/api/v1/tickets/{ticket['id']}")
    assert fetched["assignee"]["id"] == agent.id
    seat = await desk.seat(agent)
    assert seat["state"] == "busy"
    assert seat["load"] == {"email": 1}
    assert await desk.offers(agent) == []


async def test_the_next_agent_gets_a_rejected_offer(desk: Desk) -> None:
    queue = await desk.queue(name="Support")
    first = await desk.agent()
    desk.clock.advance(seconds=1)
    second = await desk.agent()
    item = await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="chat-1")
    await desk.dispatch()
    offered = await desk.offers(first)
    assert [o["item_id"] for o in offered] == [item["id"]]
    assert await desk.offers(second) == []
    rejected = await desk.reject(first, offered[0]["id"])
    assert rejected["status"] == "rejected"
    await desk.dispatch()
    assert [o["item_id"] for o in await desk.offers(second)] == [item["id"]]
    again = await desk.accept(first, offered[0]["id"], expect=409)
    assert again["errors"][0]["type"] == "rejected"


async def test_an_unanswered_offer_expires_and_is_offered_again(desk: Desk) -> None:
    queue = await desk.queue(name="Phones", offer_timeout_s=20)
    agent = await desk.agent(cooldown_s=5)
    item = await desk.enqueue(queue_id=queue["id"], kind="call", external_ref="call-9")
    await desk.dispatch()
    offer = (await desk.offers(agent))[0]
    await desk.later(20)
    gone = await desk.accept(agent, offer["id"], expect=409)
    assert gone["errors"][0]["type"] == "expired"
    assert (await desk.item(item["id"]))["status"] == "waiting"
    assert (await desk.item(item["id"]))["front"] is True
    await desk.later(5)
    assert [o["item_id"] for o in await desk.offers(agent)] == [item["id"]]


async def test_too_many_missed_offers_put_the_agent_on_break(desk: Desk) -> None:
    queue = await desk.queue(name="Phones", offer_timeout_s=10)
    agent = await desk.agent(max_no_answer=2, cooldown_s=0)
    await desk.enqueue(queue_id=queue["id"], kind="call", external_ref="call-1")
    await desk.dispatch()
    await desk.later(10)
    assert (await desk.seat(agent))["missed_in_row"] == 1
    await desk.later(10)
    seat = await desk.seat(agent)
    assert (seat["state"], seat["reason"]) == ("break", "missed_offers")
    assert await desk.offers(agent) == []


async def test_accepting_after_the_deadline_is_409_even_before_the_sweep(desk: Desk) -> None:
    queue = await desk.queue(name="Chat", offer_timeout_s=15)
    agent = await desk.agent()
    await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="c")
    await desk.dispatch()
    offer = (await desk.offers(agent))[0]
    desk.clock.advance(seconds=15)
    gone = await desk.accept(agent, offer["id"], expect=409)
    assert gone["errors"][0]["type"] == "expired"


async def test_someone_elses_offer_is_404(desk: Desk) -> None:
    queue = await desk.queue(name="Chat")
    agent = await desk.agent()
    other = await desk.agent(available=False)
    await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="c")
    await desk.dispatch()
    offer = (await desk.offers(agent))[0]
    await desk.accept(other, offer["id"], expect=404)
    await desk.accept(agent, 987654, expect=404)


async def test_ring_all_rings_everyone_and_the_first_to_answer_wins(desk: Desk) -> None:
    queue = await desk.queue(name="Hotline", strategy="ring_all")
    agents = [await desk.agent() for _ in range(3)]
    item = await desk.enqueue(queue_id=queue["id"], kind="call", external_ref="call-77")
    await desk.dispatch()
    ringing = await desk.item(item["id"])
    assert ringing["ring"] == sorted(a.id for a in agents)
    offers = [(await desk.offers(a))[0] for a in agents]
    await desk.accept(agents[1], offers[1]["id"])
    late = await desk.accept(agents[0], offers[0]["id"], expect=409)
    assert late["errors"][0]["type"] == "taken"
    assert await desk.offers(agents[2]) == []


async def test_the_cti_answers_for_the_agent_who_picked_up(desk: Desk) -> None:
    queue = await desk.queue(name="Hotline", strategy="ring_all")
    agents = [await desk.agent() for _ in range(2)]
    item = await desk.enqueue(queue_id=queue["id"], kind="call", external_ref="pbx-1")
    assert item["media"] == "voice"
    await desk.dispatch()
    url = f"/api/v1/routing/items/{item['id']}"
    answered = await desk.call("POST", f"{url}/answer", json={"agent_id": agents[0].id})
    assert (answered["status"], answered["agent_id"]) == ("assigned", agents[0].id)
    refused = await desk.call("POST", f"{url}/answer", json={"agent_id": agents[1].id}, expect=409)
    assert refused["errors"][0]["type"] == "not_offered"


async def test_auto_accept_assigns_without_asking(desk: Desk) -> None:
    team = desk.people.team()
    await desk.queue(name="Mail", team_id=team, auto_accept=True)
    agent = await desk.agent(teams=[team])
    ticket = await desk.ticket(team_id=team)
    await desk.dispatch()
    assert await desk.offers(agent) == []
    fetched = await desk.call("GET", f"/api/v1/tickets/{ticket['id']}")
    assert fetched["assignee"]["id"] == agent.id


async def test_wrap_up_after_the_work_then_available_again(desk: Desk) -> None:
    queue = await desk.queue(name="Voice", wrap_up_s=30)
    agent = await desk.agent()
    item = await desk.enqueue(queue_id=queue["id"], kind="call", external_ref="c1")
    await desk.dispatch()
    await desk.accept(agent, (await desk.offers(agent))[0]["id"])
    done = await desk.call("POST", f"/api/v1/routing/items/{item['id']}/complete", agent)
    assert done["status"] == "completed"
    seat = await desk.seat(agent)
    assert seat["state"] == "after_call_work"
    second = await desk.enqueue(queue_id=queue["id"], kind="call", external_ref="c2")
    await desk.later(29)
    assert await desk.offers(agent) == []
    await desk.later(1)
    assert (await desk.seat(agent))["state"] == "available"
    await desk.dispatch()
    assert [o["item_id"] for o in await desk.offers(agent)] == [second["id"]]


async def test_capacity_per_media_is_never_exceeded(desk: Desk) -> None:
    queue = await desk.queue(name="Chat", auto_accept=True)
    agent = await desk.agent(capacity={"chat": 2, "voice": 1, "email": 0})
    items = [
        await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref=f"c{i}")
        for i in range(4)
    ]
    await desk.dispatch()
    states = [(await desk.item(i["id"]))["status"] for i in items]
    assert states == ["assigned", "assigned", "waiting", "waiting"]
    assert (await desk.seat(agent))["load"] == {"chat": 2}
    await desk.call("POST", f"/api/v1/routing/items/{items[0]['id']}/complete", agent)
    await desk.dispatch()
    assert (await desk.item(items[2]["id"]))["status"] == "assigned"
    assert (await desk.item(items[3]["id"]))["status"] == "waiting"


async def test_no_chat_is_offered_during_a_call_when_so_configured(desk: Desk) -> None:
    queue = await desk.queue(name="Mixed", auto_accept=True)
    agent = await desk.agent(blocks={"voice": ["chat"]})
    call = await desk.enqueue(queue_id=queue["id"], kind="call", external_ref="call")
    await desk.dispatch()
    chat = await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="chat")
    await desk.dispatch()
    assert (await desk.item(chat["id"]))["status"] == "waiting"
    await desk.call("POST", f"/api/v1/routing/items/{call['id']}/complete", agent)
    await desk.dispatch()
    assert (await desk.item(chat["id"]))["status"] == "assigned"


async def test_a_changed_queue_reaches_the_dispatcher_while_its_items_do_not_reread_it(
    desk: Desk,
) -> None:
    """Items that come and go leave their queue as the core knows it; the queue's own
    change (its event) is read again and decides the next item."""
    queue = await desk.queue(name="Chat")
    agent = await desk.agent(capacity={"chat": 3, "voice": 1, "email": 0})
    await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="before")
    await desk.dispatch()
    await desk.accept(agent, (await desk.offers(agent))[0]["id"])
    await desk.call("PATCH", f"{QUEUES}/{queue['id']}", json={"auto_accept": True})
    item = await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="after")
    await desk.dispatch()
    assert await desk.offers(agent) == []
    taken = await desk.item(item["id"])
    assert (taken["status"], taken["agent_id"]) == ("assigned", agent.id)
