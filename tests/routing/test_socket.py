"""The routing socket: offers pushed to the agent's browser, accepted on the socket,
heartbeats, sign-in by cookie (same origin only) or token, and the live wallboard."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from kefu.config import Settings
from kefu.kit.time import FrozenClock
from kefu.main import create_app
from kefu.routing.engine import TASK_NAME
from kefu.security.deps import SESSION_COOKIE
from tests.conftest import PASSWORD, Actor, People

WS = "/api/v1/routing/ws"


@pytest.fixture
def tc(settings: Settings, clock: FrozenClock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock), base_url="http://kefu.test") as client:
        yield client


def people_of(tc: TestClient) -> People:
    return People(tc.app.state.runtime)  # type: ignore[attr-defined]


def dispatch(tc: TestClient) -> None:
    runtime = tc.app.state.runtime  # type: ignore[attr-defined]
    assert tc.portal is not None
    assert tc.portal.call(runtime.scheduler.run_once, TASK_NAME)


def until(ws: WebSocketTestSession, kind: str) -> dict[str, Any]:
    for _ in range(20):
        message: dict[str, Any] = ws.receive_json()
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message")


def ready_agent(tc: TestClient, lead: Actor) -> tuple[Actor, int]:
    agent = people_of(tc).user("agent")
    queue = tc.post("/api/v1/routing/queues", json={"name": "Live"}, headers=lead.headers)
    tc.patch(f"/api/v1/agents/{agent.id}/seat", json={"languages": ["en"]}, headers=lead.headers)
    tc.put("/api/v1/agents/me/state", json={"state": "available"}, headers=agent.headers)
    return agent, queue.json()["id"]


def test_offer_reaches_the_socket_and_is_accepted_there(tc: TestClient) -> None:
    lead = people_of(tc).user("supervisor")
    agent, queue_id = ready_agent(tc, lead)
    with tc.websocket_connect(WS, headers=agent.headers) as ws:
        hello = until(ws, "hello")
        assert (hello["seat"]["state"], hello["offers"]) == ("available", [])
        body = {"queue_id": queue_id, "kind": "chat", "external_ref": "chat-1"}
        item = tc.post("/api/v1/routing/items", json=body, headers=lead.headers).json()
        dispatch(tc)
        offer = until(ws, "offer")["offer"]
        assert (offer["item_id"], offer["seconds_left"]) == (item["id"], 30)
        ws.send_json({"type": "accept", "offer_id": offer["id"]})
        accepted = until(ws, "accepted")
        assert accepted["item"]["agent_id"] == agent.id
        ws.send_json({"type": "accept", "offer_id": offer["id"]})
        refused = until(ws, "error")
        assert (refused["status"], refused["reason"]) == (409, "accepted")
        ws.send_json({"type": "state", "state": "sleeping"})
        assert until(ws, "error")["status"] == 422
        ws.send_json({"type": "ping"})
        assert until(ws, "pong") == {"type": "pong"}
    seat = tc.get("/api/v1/agents/me", headers=agent.headers).json()
    assert seat["heartbeat_at"] is not None


def test_a_withdrawn_offer_disappears_from_the_socket(tc: TestClient) -> None:
    lead = people_of(tc).user("supervisor")
    agent, queue_id = ready_agent(tc, lead)
    with tc.websocket_connect(WS, headers=agent.headers) as ws:
        until(ws, "hello")
        body = {"queue_id": queue_id, "kind": "call", "external_ref": "call-1"}
        item = tc.post("/api/v1/routing/items", json=body, headers=lead.headers).json()
        dispatch(tc)
        offer = until(ws, "offer")["offer"]
        tc.post(f"/api/v1/routing/items/{item['id']}/abandon", headers=lead.headers)
        closed = until(ws, "offer_closed")
        assert (closed["offer_id"], closed["status"]) == (offer["id"], "withdrawn")


def test_cookie_sign_in_needs_the_same_origin(tc: TestClient) -> None:
    agent = people_of(tc).user("agent")
    login = tc.post("/api/v1/auth/login", json={"email": agent.email, "password": PASSWORD})
    assert login.status_code in (200, 204), login.text
    cookie = f"{SESSION_COOKIE}={tc.cookies[SESSION_COOKIE]}"
    evil = {"cookie": cookie, "origin": "http://evil.example"}
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        tc.websocket_connect(WS, headers=evil) as ws,
    ):
        ws.receive_json()
    assert refused.value.code == 4401
    # The test client's websocket says it is host "testserver".
    same = {"cookie": cookie, "origin": "http://testserver"}
    with tc.websocket_connect(WS, headers=same) as ws:
        assert until(ws, "hello")["seat"]["user_id"] == agent.id


def test_only_supervisors_watch_the_wallboard(tc: TestClient) -> None:
    lead = people_of(tc).user("supervisor")
    agent, _queue = ready_agent(tc, lead)
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        tc.websocket_connect(f"{WS}?wallboard=1", headers=agent.headers) as ws,
    ):
        ws.receive_json()
    assert refused.value.code == 4403
    with tc.websocket_connect(f"{WS}?wallboard=1", headers=lead.headers) as ws:
        board = until(ws, "wallboard")["data"]
        assert [q["name"] for q in board["queues"]] == ["Live"]
        tc.put("/api/v1/agents/me/state", json={"state": "offline"}, headers=agent.headers)
        states = []
        for _ in range(5):
            fresh = until(ws, "wallboard")["data"]
            states = [a["state"] for a in fresh["agents"] if a["user_id"] == agent.id]
            if states == ["offline"]:
                break
        assert states == ["offline"]


def test_no_token_no_socket(tc: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        tc.websocket_connect(WS, headers={"authorization": "Bearer nope"}) as ws,
    ):
        ws.receive_json()
    assert refused.value.code == 4401
