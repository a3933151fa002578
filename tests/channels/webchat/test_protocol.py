"""The widget's WebSocket protocol against a running kefu: messages land on tickets, agents'
replies arrive live, and a dropped connection loses and repeats nothing."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
import websockets

from kefu.runtime import Runtime
from tests.channels.webchat.conftest import Live, Visitor, make_account, wait_until
from tests.conftest import Actor


async def reply(http: httpx.AsyncClient, agent: Actor, ticket_id: int, body: str) -> dict[str, Any]:
    response = await http.post(
        f"/api/v1/tickets/{ticket_id}/messages", json={"body": body}, headers=agent.headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def messages(http: httpx.AsyncClient, actor: Actor, ticket_id: int) -> list[dict[str, Any]]:
    response = await http.get(f"/api/v1/tickets/{ticket_id}/messages", headers=actor.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_widget_script_is_small_and_carries_both_languages(http: httpx.AsyncClient) -> None:
    response = await http.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert len(response.content) < 30_000
    assert "在线咨询" in response.text and "Chat with us" in response.text
    again = await http.get("/widget.js", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


async def test_a_visitors_message_becomes_a_ticket_and_the_reply_arrives_live(
    live: Live, http: httpx.AsyncClient, account: int, agent: Actor, admin: Actor, people: Any
) -> None:
    team = people.team("Billing")
    await _offer_teams(http, admin, account, [team])
    visitor = await Visitor.connect(live, account)
    assert visitor.welcome["conversation"] is None and visitor.welcome["online"] is True
    assert visitor.welcome["teams"] == [{"id": team, "name": "Billing"}]
    await visitor.send(type="profile", name="Ada Lovelace", email="ada@example.com", team_id=team)
    profile = await visitor.expect("profile")
    assert profile == {
        "type": "profile",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "team_id": team,
    }
    ack = await visitor.say("My parcel never arrived")
    assert ack["seq"] == 1 and ack["duplicate"] is False and visitor.session
    ticket = (await http.get(f"/api/v1/tickets/{ack['ticket_id']}", headers=agent.headers)).json()
    assert ticket["channel"] == "webchat" and ticket["team"]["id"] == team
    assert ticket["requester"]["name"] == "Ada Lovelace"
    await reply(http, agent, ack["ticket_id"], "Sorry! Sending a new one today.")
    frame = await visitor.expect("message", lambda f: f["from"] == "agent")
    assert frame["seq"] == 2 and frame["text"] == "Sorry! Sending a new one today."
    assert frame["author"] == agent.email.split("@")[0]
    await visitor.send(type="received", seq=2)

    async def delivered() -> bool:
        items = await messages(http, agent, ack["ticket_id"])
        return items[-1]["delivery_status"] == "delivered"

    await wait_until(delivered)
    await visitor.close()


async def _offer_teams(
    http: httpx.AsyncClient, admin: Actor, account: int, teams: list[int]
) -> None:
    response = await http.patch(
        f"/api/v1/channel-accounts/{account}",
        json={"config": {"availability": "always", "teams": teams}},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text


async def test_a_dropped_connection_resumes_with_nothing_lost_or_repeated(
    live: Live, http: httpx.AsyncClient, account: int, agent: Actor
) -> None:
    visitor = await Visitor.connect(live, account)
    first = await visitor.say("one")
    await visitor.say("two")
    ticket_id, session = first["ticket_id"], visitor.session
    # The ack may come before the message's own frame: wait for the frame of "two".
    seen = (await visitor.expect("message", lambda f: f["text"] == "two"))["seq"]
    await visitor.close()
    for text in ("reply a", "reply b", "reply c"):  # the visitor is away
        await reply(http, agent, ticket_id, text)

    async def numbered() -> bool:
        items = await messages(http, agent, ticket_id)
        return all(m["delivery_status"] == "sent" for m in items if m["author_type"] == "agent")

    await wait_until(numbered)
    back = await Visitor.connect(live, account, session=session, since=seen)
    assert back.welcome["conversation"] == visitor.conversation and back.welcome["last_seq"] == 5
    got = [await back.expect("message") for _ in range(3)]
    assert [(f["seq"], f["text"]) for f in got] == [(3, "reply a"), (4, "reply b"), (5, "reply c")]
    assert [f for f in await back.quiet() if f["type"] == "message"] == []
    ack = await back.say("three")
    assert ack["seq"] == 6
    await back.close()
    again = await Visitor.connect(live, account, session=session, since=0)
    replay = [await again.expect("message") for _ in range(6)]
    assert [f["seq"] for f in replay] == [1, 2, 3, 4, 5, 6]
    assert [f["text"] for f in replay] == ["one", "two", "reply a", "reply b", "reply c", "three"]
    await again.close()


async def test_a_resent_client_id_is_stored_once(
    live: Live, http: httpx.AsyncClient, account: int, agent: Actor
) -> None:
    visitor = await Visitor.connect(live, account)
    first = await visitor.say("hello?", client_id="c-1")
    await visitor.close()
    # the widget did not see the ack (say the socket dropped): it sends the same id again
    back = await Visitor.connect(live, account, session=visitor.session, since=0)
    again = await back.say("hello?", client_id="c-1")
    assert again["duplicate"] is True
    assert (again["seq"], again["id"]) == (first["seq"], first["id"])
    bodies = [m["body_text"] for m in await messages(http, agent, first["ticket_id"])]
    assert bodies == ["hello?"]
    await back.close()


async def test_frames_that_break_the_protocol_are_answered_not_fatal(
    live: Live, account: int
) -> None:
    visitor = await Visitor.connect(live, account)
    await visitor.ws.send("not json")
    assert (await visitor.expect("error"))["code"] == "bad_frame"
    await visitor.send(type="launch", x=1)
    assert (await visitor.expect("error"))["code"] == "bad_frame"
    await visitor.send(type="message", client_id="c-long", text="x" * 5001)
    refused = await visitor.expect("error")
    assert refused["code"] == "too_long" and refused["client_id"] == "c-long"
    await visitor.send(type="message", client_id="c-empty", text="   ")
    assert (await visitor.expect("error"))["code"] == "invalid"
    assert (await visitor.say("still here"))["seq"] == 1
    await visitor.close()


async def test_an_unknown_or_foreign_chat_is_refused(live: Live, runtime: Runtime) -> None:
    shop_only = make_account(runtime, allowed_origins=["https://shop.example"])
    for channel, origin, code in (
        ("9999", None, "unavailable"),
        (str(shop_only), "https://evil.example", "origin_not_allowed"),
    ):
        headers = {"Origin": origin} if origin else None
        async with websockets.connect(live.ws_url, additional_headers=headers) as ws:
            await ws.send(orjson.dumps({"type": "hello", "channel": channel}).decode())
            assert orjson.loads(await ws.recv())["code"] == code
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
    allowed = await Visitor.connect(live, shop_only, origin="https://shop.example")
    assert allowed.welcome["type"] == "welcome"
    await allowed.close()


async def test_a_flood_of_messages_is_slowed_down(live: Live, account: int) -> None:
    visitor = await Visitor.connect(live, account)
    for n in range(25):
        await visitor.send(type="message", client_id=f"c-{n}", text=f"spam {n}")
    frames = await visitor.quiet(1.0)
    limited = [f for f in frames if f["type"] == "error" and f["code"] == "rate_limited"]
    acked = [f for f in frames if f["type"] == "ack"]
    assert limited and len(acked) + len(limited) == 25
    await visitor.close()
