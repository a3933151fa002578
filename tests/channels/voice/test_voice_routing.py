"""A call on a team with a routing queue: the router picks the agent whose phone rings,
answering assigns the work, and the end of the call completes it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kefu.channels.vendor import hmac_hex
from kefu.config import Settings
from kefu.events import Event
from kefu.kit.time import FrozenClock
from kefu.main import create_app
from kefu.runtime import Runtime
from tests.channels.vendor_helpers import fixture_json, make_account, tickets_of
from tests.conftest import Actor, People
from tests.routing.conftest import Desk

SECRET = "test-pbx-secret"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"run_worker": False})  # the test runs the dispatcher


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> FastAPI:
    return create_app(settings, clock)


@pytest.fixture
async def desk(
    client: httpx.AsyncClient, runtime: Runtime, people: People, clock: FrozenClock
) -> Desk:
    return Desk(client, runtime, people, clock)


async def post(client: httpx.AsyncClient, account: dict[str, Any], event: dict[str, Any]) -> None:
    body = json.dumps(event).encode()
    headers = {"X-Kefu-Signature": "sha256=" + hmac_hex(SECRET, body)}
    response = await client.post(account["webhook_url"], content=body, headers=headers)
    assert response.status_code == 200, response.text


async def test_the_router_picks_who_rings(
    client: httpx.AsyncClient, desk: Desk, admin: Actor, runtime: Runtime
) -> None:
    team = desk.people.team("Hotline")
    await desk.queue(name="Hotline calls", team_id=team, channels=["voice"])
    agent = await desk.agent(teams=[team], languages=["zh_CN"])
    account = await make_account(
        client, admin, "voice", team_id=team, secrets={"webhook_secret": SECRET}
    )
    ringing: list[Event] = []
    runtime.bus.subscribe("call.ringing", ringing.append)

    await post(client, account, fixture_json("voice", "stasis_start_inbound.json"))
    await desk.dispatch()
    assert [e.payload["agent_id"] for e in ringing] == [None, agent.id]
    [ticket] = await tickets_of(client, admin, "voice")
    assert ringing[-1].payload["customer_id"] == ticket["requester"]["id"]

    answered = fixture_json("voice", "channel_state_up.json")
    answered["channel"] = fixture_json("voice", "stasis_start_inbound.json")["channel"]
    answered["channel"]["state"] = "Up"
    await post(client, account, answered)
    await desk.settle()
    [call] = (
        await client.get(f"/api/v1/tickets/{ticket['id']}/calls", headers=admin.headers)
    ).json()
    assert call["agent_id"] == agent.id and call["state"] == "answered"
    assert (await desk.seat(agent))["load"]["voice"] == 1

    await post(client, account, fixture_json("voice", "channel_destroyed.json"))
    await desk.settle()
    assert (await desk.seat(agent))["load"].get("voice", 0) == 0
