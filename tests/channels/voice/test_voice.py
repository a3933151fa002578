"""Voice through a CTI adapter: Asterisk ARI events posted by the PBX through the real
webhook become a call record on the customer's ticket, with its timeline and events."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from kefu.channels.vendor import hmac_hex
from kefu.events import Event
from kefu.runtime import Runtime
from tests.channels.vendor_helpers import fixture, fixture_json, make_account, tickets_of
from tests.conftest import Actor, People

SECRET = "test-pbx-secret"
TOKEN = "test-pbx-token"
LIFECYCLE = [
    "stasis_start_inbound.json",
    "stasis_start_dialed.json",
    "channel_state_up.json",
    "channel_hold.json",
    "channel_unhold.json",
    "bridge_blind_transfer.json",
    "agent_leg_destroyed.json",
    "stasis_end.json",
    "channel_destroyed.json",
    "recording_finished.json",
]


@pytest.fixture
def team_agents(people: People) -> tuple[int, Actor, Actor]:
    first, second = people.user("agent"), people.user("agent")
    return people.team("Hotline", members=[first.id, second.id]), first, second


@pytest.fixture
async def account(
    client: httpx.AsyncClient, admin: Actor, team_agents: tuple[int, Actor, Actor]
) -> dict[str, Any]:
    team, first, second = team_agents
    return await make_account(
        client,
        admin,
        "voice",
        address="+864008001234",
        team_id=team,
        config={
            "extensions": {"1001": first.id, "1002": second.id},
            "recording_url": "https://pbx.example.com/recordings/{name}.{format}",
        },
        secrets={"webhook_secret": SECRET, "api_token": TOKEN},
    )


@pytest.fixture
def calls_events(runtime: Runtime) -> list[Event]:
    seen: list[Event] = []
    runtime.bus.subscribe("call.*", seen.append)
    return seen


async def post(client: httpx.AsyncClient, account: dict[str, Any], name: str) -> httpx.Response:
    body = fixture("voice", name)
    headers = {"X-Kefu-Signature": "sha256=" + hmac_hex(SECRET, body)}
    return await client.post(account["webhook_url"], content=body, headers=headers)


async def calls(client: httpx.AsyncClient, actor: Actor, ticket_id: int) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/tickets/{ticket_id}/calls", headers=actor.headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def test_a_whole_call_is_recorded_on_the_callers_ticket(
    client: httpx.AsyncClient,
    account: dict[str, Any],
    admin: Actor,
    team_agents: tuple[int, Actor, Actor],
    calls_events: list[Event],
    runtime: Runtime,
) -> None:
    _team, first, second = team_agents
    for name in LIFECYCLE:
        response = await post(client, account, name)
        assert response.status_code == 200, (name, response.text)
    [ticket] = await tickets_of(client, admin, "voice")
    assert ticket["subject"] == "Call from +8613800138000"
    assert ticket["requester"]["name"] == "Li Lei"
    [call] = await calls(client, admin, ticket["id"])
    assert call["direction"] == "inbound"
    assert (call["from_number"], call["to_number"]) == ("+8613800138000", "+864008001234")
    assert (call["ring_s"], call["hold_s"]) == (12, 30)
    assert call["talk_s"] == 167 - 30  # 09:15:14.5 → 09:18:01.4, less the hold
    assert call["state"] == "ended" and call["end_cause"] == "Normal Clearing"
    assert call["transferred_to"] == "1002" and call["agent_id"] == second.id
    assert call["recording_url"] == "https://pbx.example.com/recordings/call-1763860502.42.wav"
    await runtime.bus.drain()
    ringing = [e.payload for e in calls_events if e.name == "call.ringing"]
    assert ringing[0]["customer_id"] == ticket["requester"]["id"]
    assert [r["agent_id"] for r in ringing] == [first.id]  # team default, then extension 1001
    names = [e.name for e in calls_events]
    assert names == [
        "call.ringing",
        "call.answered",
        "call.held",
        "call.resumed",
        "call.transferred",
        "call.ended",
        "call.recording",
    ]


async def test_timeline_shows_the_call(
    client: httpx.AsyncClient, account: dict[str, Any], admin: Actor
) -> None:
    for name in LIFECYCLE:
        await post(client, account, name)
    [ticket] = await tickets_of(client, admin, "voice")
    history = await client.get(f"/api/v1/tickets/{ticket['id']}/history", headers=admin.headers)
    entries = [(e["field"], e["new_value"]) for e in history.json()["items"] if e["kind"] == "call"]
    assert entries == [
        ("ringing", "inbound call +8613800138000 → +864008001234"),
        ("answered", "answered after 12 s"),
        ("held", None),
        ("resumed", None),
        ("transferred", "transferred to 1002"),
        ("ended", "talk 137 s, hold 30 s (ended)"),  # StasisEnd comes before the cause
        ("recording", "https://pbx.example.com/recordings/call-1763860502.42.wav"),
    ]


async def test_replayed_events_change_nothing(
    client: httpx.AsyncClient, account: dict[str, Any], admin: Actor
) -> None:
    for name in LIFECYCLE + LIFECYCLE:
        assert (await post(client, account, name)).status_code == 200
    [ticket] = await tickets_of(client, admin, "voice")
    [call] = await calls(client, admin, ticket["id"])
    assert (call["ring_s"], call["hold_s"], call["talk_s"]) == (12, 30, 137)


async def test_missed_call_and_the_known_customer(
    client: httpx.AsyncClient, account: dict[str, Any], admin: Actor, agent: Actor
) -> None:
    known = await client.post(
        "/api/v1/customers",
        json={"name": "Li Lei (VIP)", "phone": "138 0013 8000"},
        headers=agent.headers,
    )
    for name in ("stasis_start_inbound.json", "missed_destroyed.json"):
        assert (await post(client, account, name)).status_code == 200
    [ticket] = await tickets_of(client, admin, "voice")
    assert ticket["requester"]["id"] == known.json()["id"]
    [call] = await calls(client, admin, ticket["id"])
    assert (call["state"], call["ring_s"], call["talk_s"]) == ("ended", 30, None)
    assert call["end_cause"] == "No answer"


async def test_authentication(
    client: httpx.AsyncClient, account: dict[str, Any], admin: Actor
) -> None:
    body = fixture("voice", "stasis_start_inbound.json")
    url = account["webhook_url"]
    assert (await client.post(url, content=body)).status_code == 401
    forged = {"X-Kefu-Signature": "sha256=" + hmac_hex("guess", body)}
    assert (await client.post(url, content=body, headers=forged)).status_code == 401
    wrong_token = {"Authorization": "Bearer guess"}
    assert (await client.post(url, content=body, headers=wrong_token)).status_code == 401
    assert await tickets_of(client, admin, "voice") == []
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert (await client.post(url, content=body, headers=bearer)).status_code == 200
    assert len(await tickets_of(client, admin, "voice")) == 1


async def test_malformed_and_untracked_events(
    client: httpx.AsyncClient, account: dict[str, Any], admin: Actor
) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    url = account["webhook_url"]
    bad_time = {**fixture_json("voice", "stasis_start_inbound.json"), "timestamp": "yesterday"}
    for body in (b"{", b'{"no": "type"}', json.dumps(bad_time).encode()):
        assert (await client.post(url, content=body, headers=bearer)).status_code == 400
    assert (await post(client, account, "channel_dtmf.json")).status_code == 200
    assert (await post(client, account, "channel_hold.json")).status_code == 200  # no such call
    assert await tickets_of(client, admin, "voice") == []


async def test_wrap_up_is_ended_by_the_agent(
    client: httpx.AsyncClient,
    account: dict[str, Any],
    admin: Actor,
    team_agents: tuple[int, Actor, Actor],
    runtime: Runtime,
) -> None:
    _team, first, second = team_agents
    for name in LIFECYCLE[:3]:
        await post(client, account, name)
    [ticket] = await tickets_of(client, admin, "voice")
    [call] = await calls(client, admin, ticket["id"])
    early = await client.post(f"/api/v1/calls/{call['id']}/wrap-up", headers=first.headers)
    assert early.status_code == 409
    await post(client, account, "channel_destroyed.json")
    other = await client.post(f"/api/v1/calls/{call['id']}/wrap-up", headers=second.headers)
    assert other.status_code == 403
    done = await client.post(f"/api/v1/calls/{call['id']}/wrap-up", headers=first.headers)
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "wrapped" and done.json()["wrap_up_s"] is not None


async def test_a_reply_on_a_call_ticket_goes_by_sms(
    client: httpx.AsyncClient, account: dict[str, Any], admin: Actor
) -> None:
    await post(client, account, "stasis_start_inbound.json")
    [ticket] = await tickets_of(client, admin, "voice")
    response = await client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "As promised, your case number."},
        headers=admin.headers,
    )
    assert response.status_code == 201
    assert response.json()["channel"] == "sms"
