"""Live updates: what the hub sends to open pages, presence on a ticket, and presence
shared between two kefu processes through Redis."""

from __future__ import annotations

import asyncio
import os
import time

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from kefu.accounts import service as accounts
from kefu.config import Settings
from kefu.main import create_app
from kefu.security.permissions import Principal
from kefu.web.live import Connection, LiveHub
from tests.conftest import Actor, People, create_ticket
from tests.web.conftest import SignIn

REDIS_URL = os.environ.get("KEFU_TEST_REDIS_URL", "")


def principal(people: People, actor: Actor) -> Principal:
    return people.runtime.db.run_read(accounts.principal_for_user, actor.id)


def hub_of(app: FastAPI) -> LiveHub:
    hub: LiveHub = app.state.web.hub
    return hub


async def next_message(conn: Connection, timeout: float = 3.0) -> str:
    message = await asyncio.wait_for(conn.queue.get(), timeout)
    assert message is not None
    return message


async def first_with(conn: Connection, text: str) -> str:
    """The first message containing ``text`` (others are skipped)."""
    while True:
        message = await next_message(conn)
        if text in message:
            return message


async def drain(conn: Connection) -> list[str]:
    found: list[str] = []
    while not conn.queue.empty():
        found.append(conn.queue.get_nowait() or "")
    return found


async def test_inbox_pages_hear_of_new_and_changed_tickets(
    client: httpx.AsyncClient, app: FastAPI, people: People, admin: Actor
) -> None:
    watcher = people.user("agent")
    conn = hub_of(app).connect(principal(people, watcher), None)
    ticket = await create_ticket(client, admin)
    created = await next_message(conn)
    assert created.startswith("event: ticket\n")
    assert f'"id":{ticket["id"]}' in created and '"kind":"ticket.created"' in created
    assert "Refund" not in created  # notices carry ids, never the ticket's content
    await client.patch(
        f"/api/v1/tickets/{ticket['id']}", json={"priority": "high"}, headers=admin.headers
    )
    updated = await first_with(conn, '"kind":"ticket.updated"')
    assert f'"actor":{admin.id}' in updated
    hub_of(app).disconnect(conn)


async def test_private_teams_tickets_are_not_announced_to_outsiders(
    client: httpx.AsyncClient, app: FastAPI, people: People, admin: Actor
) -> None:
    secret = people.team("Board", private=True)
    insider = people.user("agent", teams=[secret])
    outsider_conn = hub_of(app).connect(principal(people, people.user("agent")), None)
    insider_conn = hub_of(app).connect(principal(people, insider), None)
    ticket = await create_ticket(client, admin, team_id=secret)
    url = f"/api/v1/tickets/{ticket['id']}/messages"
    await client.post(url, json={"body": "board minutes"}, headers=admin.headers)
    assert '"kind":"ticket.created"' in await next_message(insider_conn)
    assert '"kind":"message.created"' in await first_with(insider_conn, "message.created")
    await app.state.runtime.bus.drain()
    assert not any(f'"id":{ticket["id"]}' in m for m in await drain(outsider_conn))


async def test_a_ticket_page_hears_only_of_its_ticket(
    client: httpx.AsyncClient, app: FastAPI, people: People, admin: Actor
) -> None:
    one, other = await create_ticket(client, admin), await create_ticket(client, admin)
    conn = hub_of(app).connect(principal(people, admin), one["id"])
    await drain(conn)
    await client.post(
        f"/api/v1/tickets/{other['id']}/messages", json={"body": "x"}, headers=admin.headers
    )
    await client.post(
        f"/api/v1/tickets/{one['id']}/messages", json={"body": "y"}, headers=admin.headers
    )
    message = await first_with(conn, '"kind":"message.created"')
    assert message.startswith("event: message\n") and f'"id":{one["id"]}' in message
    await app.state.runtime.bus.drain()
    assert not any(f'"id":{other["id"]}' in m for m in await drain(conn))


async def test_presence_shows_who_views_and_who_types(
    client: httpx.AsyncClient, app: FastAPI, people: People, admin: Actor
) -> None:
    ticket = await create_ticket(client, admin)
    hub = hub_of(app)
    alice = people.user("agent", name="Alice Agent")
    bob = people.user("agent", name="Bob Agent")
    first = hub.connect(principal(people, alice), ticket["id"])
    await drain(first)
    second = hub.connect(principal(people, bob), ticket["id"])
    seen = await next_message(first)
    assert seen.startswith("event: presence\n") and "Bob Agent is viewing" in seen
    hub.set_state(second.key, principal(people, bob), "typing")
    typing = await next_message(first)
    assert "Bob Agent is typing a reply" in typing
    hub.disconnect(second)
    left = await next_message(first)
    assert "Bob Agent" not in left
    hub.disconnect(first)


async def test_presence_route_checks_the_connection_belongs_to_the_user(
    client: httpx.AsyncClient, app: FastAPI, browser: SignIn, people: People, admin: Actor
) -> None:
    ticket = await create_ticket(client, admin)
    owner = people.user("agent")
    conn = hub_of(app).connect(principal(people, owner), ticket["id"])
    stranger = await browser(people.user("agent"))
    refused = await stranger.post("/live/presence", {"key": conn.key, "state": "typing"})
    assert refused.status_code == 404
    mine = await browser(owner)
    assert (
        await mine.post("/live/presence", {"key": conn.key, "state": "typing"})
    ).status_code == 204
    assert (
        await mine.post("/live/presence", {"key": conn.key, "state": "dancing"})
    ).status_code == 422
    hub_of(app).disconnect(conn)


async def test_the_stream_greets_then_relays(
    client: httpx.AsyncClient, app: FastAPI, people: People, admin: Actor
) -> None:
    conn = hub_of(app).connect(principal(people, admin), None)
    stream = hub_of(app).stream(conn)
    assert await anext(stream) == "retry: 3000\n\n"
    hello = await anext(stream)
    assert hello.startswith("event: hello\n") and conn.key in hello
    await create_ticket(client, admin)
    relayed = await asyncio.wait_for(anext(stream), 3)
    assert '"kind":"ticket.created"' in relayed
    await stream.aclose()
    assert conn not in hub_of(app).connections


async def test_live_feed_of_a_hidden_ticket_is_refused(
    client: httpx.AsyncClient, browser: SignIn, people: People, admin: Actor
) -> None:
    secret = people.team("HR", private=True)
    ticket = await create_ticket(client, admin, team_id=secret)
    outsider = await browser(people.user("agent"))
    assert (await outsider.get(f"/live?ticket={ticket['id']}")).status_code == 404


@pytest.mark.skipif(not REDIS_URL, reason="KEFU_TEST_REDIS_URL is not set")
async def test_presence_crosses_processes_through_redis(
    settings: Settings, people: People, admin: Actor
) -> None:
    shared = settings.model_copy(update={"redis_url": REDIS_URL})
    first_app, second_app = create_app(shared), create_app(shared)
    viewer = principal(people, people.user("agent", name="Remote Viewer"))
    async with LifespanManager(first_app), LifespanManager(second_app):
        await asyncio.sleep(0.2)  # both subscribed
        conn = hub_of(first_app).connect(viewer, 4242)
        deadline = time.monotonic() + 5
        while not hub_of(second_app).presence.viewers(4242) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert [v.name for v in hub_of(second_app).presence.viewers(4242)] == ["Remote Viewer"]
        hub_of(first_app).disconnect(conn)
        while hub_of(second_app).presence.viewers(4242) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert hub_of(second_app).presence.viewers(4242) == []


def test_stale_viewers_are_forgotten() -> None:
    from kefu.web.presence import PresenceRegistry

    registry = PresenceRegistry()
    now = time.time()
    base = {"user_id": 1, "name": "Gone", "state": "viewing", "typing_until": 0.0}
    registry.apply({**base, "ticket_id": 7, "key": "a", "seen_until": now - 1})
    registry.apply({**base, "ticket_id": 8, "key": "b", "seen_until": now + 60, "name": "Here"})
    registry.purge()
    assert registry.find("a") is None
    assert [v.name for v in registry.viewers(8)] == ["Here"]
