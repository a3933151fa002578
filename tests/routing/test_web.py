"""Routing pages: the state control and offer cards in the workspace header, accepting from
the card, the wallboard and the supervisor's actions on it, in English and Chinese."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import Actor
from tests.routing.conftest import Desk
from tests.web.conftest import Browser, sign_in


@pytest.fixture
async def opened(desk: Desk) -> AsyncIterator[list[httpx.AsyncClient]]:
    clients: list[httpx.AsyncClient] = []
    yield clients
    for http in clients:
        await http.aclose()


async def browse(desk: Desk, opened: list[httpx.AsyncClient], actor: Actor) -> Browser:
    transport = httpx.ASGITransport(app=desk.client._transport.app)  # type: ignore[attr-defined]
    http = httpx.AsyncClient(transport=transport, base_url="http://kefu.test")
    opened.append(http)
    return await sign_in(http, actor)


async def test_the_header_carries_the_seat_and_the_offer_card(
    desk: Desk, opened: list[httpx.AsyncClient]
) -> None:
    queue = await desk.queue(name="Support")
    await desk.call(
        "POST",
        "/api/v1/routing/break-reasons",
        json={"code": "lunch", "label": "Lunch"},
        expect=201,
    )
    agent = await desk.agent(capacity={"chat": 3})
    page = await browse(desk, opened, agent)
    inbox = await page.get("/inbox")
    assert 'id="seat"' in inbox.text and "routing.js" in inbox.text
    assert "/wallboard" not in inbox.text
    widget = await page.get("/seat", htmx=True)
    assert "Available" in widget.text and "Chat 0/3" in widget.text
    assert 'value="break:lunch"' in widget.text
    item = await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="chat-7")
    await desk.dispatch()
    card = await page.get("/seat", htmx=True)
    assert "chat-7" in card.text and 'data-left="30.0"' in card.text
    offer_id = (await desk.offers(agent))[0]["id"]
    taken = await page.post(f"/seat/offers/{offer_id}/accept")
    assert taken.status_code == 200
    assert "The work is yours." in taken.text and "Chat 1/3" in taken.text
    assert (await desk.item(item["id"]))["agent_id"] == agent.id
    again = await page.post(f"/seat/offers/{offer_id}/accept")
    assert "The work is yours." in again.text


async def test_accepting_a_ticket_offer_opens_the_ticket(
    desk: Desk, opened: list[httpx.AsyncClient]
) -> None:
    team = desk.people.team()
    await desk.queue(name="Mail", team_id=team)
    agent = await desk.agent(teams=[team])
    ticket = await desk.ticket(team_id=team)
    await desk.dispatch()
    page = await browse(desk, opened, agent)
    offer_id = (await desk.offers(agent))[0]["id"]
    taken = await page.post(f"/seat/offers/{offer_id}/accept")
    assert taken.headers.get("hx-redirect") == f"/tickets/{ticket['id']}"


async def test_late_accept_says_why_in_the_readers_language(
    desk: Desk, opened: list[httpx.AsyncClient]
) -> None:
    queue = await desk.queue(name="Q", offer_timeout_s=10)
    agent = await desk.agent()
    await desk.call("PATCH", f"/api/v1/users/{agent.id}", agent, json={"language": "zh_CN"})
    await desk.enqueue(queue_id=queue["id"], kind="chat", external_ref="c")
    await desk.dispatch()
    page = await browse(desk, opened, agent)
    offer_id = (await desk.offers(agent))[0]["id"]
    desk.clock.advance(seconds=11)
    late = await page.post(f"/seat/offers/{offer_id}/accept")
    assert "太迟了：该分配已过期。" in late.text


async def test_state_control_changes_the_state(desk: Desk, opened: list[httpx.AsyncClient]) -> None:
    await desk.call(
        "POST",
        "/api/v1/routing/break-reasons",
        json={"code": "lunch", "label": "Lunch"},
        expect=201,
    )
    agent = await desk.agent()
    page = await browse(desk, opened, agent)
    on_break = await page.post("/seat/state", {"choice": "break:lunch"})
    assert "On break · Lunch" in on_break.text
    assert (await desk.seat(agent))["reason"] == "lunch"
    refused = await page.post("/seat/state", {"choice": "break:karaoke"})
    assert refused.status_code == 422


async def test_wallboard_for_supervisors_with_their_actions(
    desk: Desk, opened: list[httpx.AsyncClient]
) -> None:
    queue = await desk.queue(name="Hotline", skills={"phone": 1})
    await desk.queue(name="Nobody", skills={"klingon": 5})
    agent = await desk.agent(skills={"phone": 2}, capacity={"voice": 1})
    other = await desk.agent(skills={"phone": 2}, available=False)
    first = await desk.enqueue(queue_id=queue["id"], kind="call", external_ref="call-1")
    second = await desk.enqueue(queue_id=queue["id"], kind="call", external_ref="call-2")
    await desk.dispatch()
    lead = await browse(desk, opened, desk.lead)
    page = await lead.get("/wallboard")
    assert page.status_code == 200
    assert 'data-socket="/api/v1/routing/ws?wallboard=1"' in page.text
    assert "Hotline" in page.text and "No agent has what this queue needs" in page.text
    waiting = await lead.get(f"/wallboard/queues/{queue['id']}/items", htmx=True)
    assert "call-2" in waiting.text and "call-1" in waiting.text
    moved = await lead.post(
        f"/wallboard/items/{second['id']}/reassign", {"agent_id": str(other.id)}
    )
    assert moved.status_code == 200
    assert (await desk.item(second["id"]))["agent_id"] == other.id
    await lead.post(f"/wallboard/agents/{agent.id}/state", {"choice": "offline"})
    assert (await desk.seat(agent))["state"] == "offline"
    assert (await desk.item(first["id"]))["status"] == "waiting"
    denied = await (await browse(desk, opened, agent)).get("/wallboard")
    assert denied.status_code == 403


async def test_wallboard_in_chinese(desk: Desk, opened: list[httpx.AsyncClient]) -> None:
    await desk.queue(name="热线")
    await desk.agent()
    await desk.call("PATCH", f"/api/v1/users/{desk.lead.id}", json={"language": "zh_CN"})
    lead = await browse(desk, opened, desk.lead)
    page = await lead.get("/wallboard")
    for words in ("监控大屏", "服务水平", "最长等待", "空闲", "平均应答速度"):
        assert words in page.text
