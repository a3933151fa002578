"""Typing indicators and read receipts, both ways, and the agents' live socket."""

from __future__ import annotations

import httpx
import pytest
import websockets

from kefu.runtime import Runtime
from tests.channels.webchat.conftest import Live, Visitor, agent_socket, make_account, wait_until
from tests.channels.webchat.test_protocol import messages, reply
from tests.conftest import Actor, People


async def test_typing_shows_on_the_other_side(
    live: Live, http: httpx.AsyncClient, account: int, agent: Actor
) -> None:
    visitor = await Visitor.connect(live, account)
    ack = await visitor.say("hi")
    desk = await agent_socket(live, agent.token)
    await desk.send(type="watch", ticket_ids=[ack["ticket_id"]])
    assert (await desk.expect("watching"))["ticket_ids"] == [ack["ticket_id"]]
    await visitor.send(type="typing", on=True)
    typing = await desk.expect("typing")
    assert typing == {
        "type": "typing",
        "from": "customer",
        "ticket_id": ack["ticket_id"],
        "on": True,
    }
    await desk.send(type="typing", ticket_id=ack["ticket_id"], on=True)
    shown = await visitor.expect("typing")
    assert shown["from"] == "agent" and shown["on"] is True and shown["name"]
    await desk.send(type="typing", ticket_id=ack["ticket_id"], on=False)
    assert (await visitor.expect("typing"))["on"] is False
    await visitor.close()
    await desk.close()


async def test_read_receipts_both_ways(
    live: Live, http: httpx.AsyncClient, account: int, agent: Actor
) -> None:
    visitor = await Visitor.connect(live, account)
    ack = await visitor.say("are you there?")
    ticket_id = ack["ticket_id"]
    desk = await agent_socket(live, agent.token)
    await desk.send(type="watch", ticket_ids=[ticket_id])
    await desk.expect("watching")
    marked = await http.post(f"/api/v1/webchat/tickets/{ticket_id}/read", headers=agent.headers)
    assert marked.json() == {"ticket_id": ticket_id, "marked": 1}
    assert await visitor.expect("read") == {"type": "read", "by": "agent", "seq": 1}
    assert (await messages(http, agent, ticket_id))[0]["delivery_status"] == "read"
    await reply(http, agent, ticket_id, "yes!")
    answer = await visitor.expect("message", lambda f: f["from"] == "agent")
    await visitor.send(type="read", seq=answer["seq"])
    seen = await desk.expect("read")
    assert seen["by"] == "customer" and seen["ticket_id"] == ticket_id and seen["seq"] == 2

    async def read() -> bool:
        return (await messages(http, agent, ticket_id))[-1]["delivery_status"] == "read"

    await wait_until(read)
    await visitor.close()
    await desk.close()


async def test_agents_get_the_chats_of_their_teams_and_never_hidden_ones(
    live: Live, http: httpx.AsyncClient, runtime: Runtime, admin: Actor, people: People
) -> None:
    mine, secret = people.team("Support"), people.team("Legal", private=True)
    member = people.user("agent", teams=[mine])
    outsider = people.user("agent")
    open_chat, hidden_chat = make_account(runtime), make_account(runtime)
    for chat, team in ((open_chat, mine), (hidden_chat, secret)):  # where new tickets go
        response = await http.patch(
            f"/api/v1/channel-accounts/{chat}", json={"team_id": team}, headers=admin.headers
        )
        assert response.status_code == 200, response.text
    teams_feed = await agent_socket(live, member.token, scope="teams")
    all_feed = await agent_socket(live, outsider.token, scope="all")
    visitor = await Visitor.connect(live, open_chat)
    await visitor.say("for support")
    got = await teams_feed.expect("message")
    assert got["text"] == "for support" and got["from"] == "customer" and got["conversation"]
    assert (await all_feed.expect("message"))["text"] == "for support"
    other = await Visitor.connect(live, hidden_chat)
    await other.say("for legal only")
    assert [f for f in await all_feed.quiet() if f["type"] == "message"] == []
    assert [f for f in await teams_feed.quiet(0.2) if f["type"] == "message"] == []
    for peer in (visitor, other, teams_feed, all_feed):
        await peer.close()


async def test_the_agent_socket_needs_a_valid_token(live: Live) -> None:
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(live.agent_url)
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(
            live.agent_url, additional_headers={"Authorization": "Bearer nope"}
        )
