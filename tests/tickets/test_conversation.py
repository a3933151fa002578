"""Messages on a ticket: replies, internal notes, customer messages and what they do to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kefu.config import Settings
from kefu.db import Ctx
from kefu.kit.errors import Conflict, NotFound
from kefu.kit.time import FrozenClock
from kefu.main import create_app
from kefu.outbox import service as outbox
from kefu.runtime import Runtime
from kefu.tickets import conversation
from kefu.tickets import service as tickets
from tests.conftest import Actor, People, create_ticket

API = "/api/v1/tickets"


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> FastAPI:
    return create_app(settings, clock)


def iso(clock: FrozenClock) -> str:
    return clock.now().isoformat().replace("+00:00", "Z")


async def post(
    client: httpx.AsyncClient, actor: Actor, ticket_id: int, **body: Any
) -> httpx.Response:
    return await client.post(f"{API}/{ticket_id}/messages", json=body, headers=actor.headers)


async def ticket_of(client: httpx.AsyncClient, actor: Actor, ticket_id: int) -> dict[str, Any]:
    response = await client.get(f"{API}/{ticket_id}", headers=actor.headers)
    data: dict[str, Any] = response.json()
    return data


async def test_public_reply_answers_and_opens(
    client: httpx.AsyncClient, agent: Actor, clock: FrozenClock
) -> None:
    ticket = await create_ticket(client, agent)
    clock.advance(minutes=5)
    reply = await post(client, agent, ticket["id"], body="We are on it.\n\nBest, Ann")
    assert reply.status_code == 201, reply.text
    message = reply.json()
    assert message["visibility"] == "public"
    assert message["author_type"] == "agent"
    assert message["author"]["id"] == agent.id
    assert message["body_text"] == "We are on it.\n\nBest, Ann"
    assert message["body_html"] == "<p>We are on it.</p><p>Best, Ann</p>"
    assert message["channel"] == "api"
    after = await ticket_of(client, agent, ticket["id"])
    assert after["status"] == "open"
    assert after["first_responded_at"] == iso(clock)
    assert after["updated_at"] == iso(clock)
    assert after["message_count"] == 2
    clock.advance(minutes=5)
    await post(client, agent, ticket["id"], body="Any news?")
    assert (await ticket_of(client, agent, ticket["id"]))["first_responded_at"] != iso(clock)


async def test_internal_note_changes_nothing_customers_see(
    client: httpx.AsyncClient, agent: Actor, clock: FrozenClock
) -> None:
    ticket = await create_ticket(client, agent)
    clock.advance(minutes=5)
    note = await post(client, agent, ticket["id"], body="Customer is VIP", visibility="note")
    assert note.status_code == 201
    assert note.json()["visibility"] == "note"
    after = await ticket_of(client, agent, ticket["id"])
    assert after["status"] == "new"
    assert after["first_responded_at"] is None
    assert after["version"] == 1
    assert after["updated_at"] == iso(clock)


@pytest.mark.parametrize("waiting", ["pending", "solved", "on_hold"])
async def test_customer_message_wakes_a_waiting_ticket(
    client: httpx.AsyncClient, agent: Actor, waiting: str
) -> None:
    ticket = await create_ticket(client, agent)
    await client.patch(f"{API}/{ticket['id']}", json={"status": waiting}, headers=agent.headers)
    message = await post(client, agent, ticket["id"], body="Still broken", author_type="customer")
    assert message.status_code == 201
    assert message.json()["author"] == {
        "id": ticket["requester"]["id"],
        "name": "Alice Liu",
        "email": None,
    }
    assert message.json()["delivery_status"] == "received"
    after = await ticket_of(client, agent, ticket["id"])
    assert after["status"] == "open"
    assert after["solved_at"] is None
    assert after["first_responded_at"] is None


@pytest.mark.parametrize("status", ["new", "open"])
async def test_customer_message_leaves_new_and_open_alone(
    client: httpx.AsyncClient, agent: Actor, status: str
) -> None:
    ticket = await create_ticket(client, agent, status=status)
    await post(client, agent, ticket["id"], body="More details", author_type="customer")
    assert (await ticket_of(client, agent, ticket["id"]))["status"] == status


async def test_send_and_set_status(client: httpx.AsyncClient, agent: Actor) -> None:
    ticket = await create_ticket(client, agent)
    reply = await post(client, agent, ticket["id"], body="Please send a photo", status="pending")
    assert reply.status_code == 201
    after = await ticket_of(client, agent, ticket["id"])
    assert after["status"] == "pending"
    assert after["version"] == 2
    history = await client.get(f"{API}/{ticket['id']}/history", headers=agent.headers)
    changed = [(h["field"], h["new_value"]) for h in history.json()["items"][1:]]
    assert [f for f, _ in changed] == ["first_responded_at", "status"]
    assert changed[1] == ("status", "pending")
    solved = await post(client, agent, ticket["id"], body="Done", status="solved")
    assert solved.status_code == 201
    assert (await ticket_of(client, agent, ticket["id"]))["status"] == "solved"


async def test_a_refused_status_keeps_the_message_out(
    client: httpx.AsyncClient, agent: Actor
) -> None:
    ticket = await create_ticket(client, agent, status="pending")
    refused = await post(client, agent, ticket["id"], body="Back to new", status="new")
    assert refused.status_code == 422
    after = await ticket_of(client, agent, ticket["id"])
    assert (after["message_count"], after["status"], after["version"]) == (1, "pending", 1)


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"body": "   "}, ["body"]),
        ({"body": "hi", "author_type": "customer", "visibility": "note"}, ["body"]),
        ({"body": "hi", "author_type": "customer", "status": "open"}, ["body", "status"]),
        ({"body": "hi", "visibility": "secret"}, ["body", "visibility"]),
        ({"body": "hi", "channel": "Bad Channel"}, ["body", "channel"]),
    ],
)
async def test_bad_messages_are_422(
    client: httpx.AsyncClient, agent: Actor, body: dict[str, Any], loc: list[Any]
) -> None:
    ticket = await create_ticket(client, agent)
    response = await post(client, agent, ticket["id"], **body)
    assert response.status_code == 422, response.text
    assert loc in [e["loc"] for e in response.json()["errors"]]


async def test_html_is_sanitised(client: httpx.AsyncClient, agent: Actor) -> None:
    ticket = await create_ticket(client, agent)
    raw = (
        '<p onclick="steal()">Hello <b>there</b></p><script>alert(1)</script>'
        '<img src="x" onerror="alert(2)"><a href="javascript:alert(3)">link</a>'
        '<iframe src="https://evil.example"></iframe><a href="https://ok.example">ok</a>'
    )
    message = (await post(client, agent, ticket["id"], body_html=raw)).json()
    html = message["body_html"]
    for bad in ("script", "onerror", "onclick", "javascript:", "iframe", "alert(1)"):
        assert bad not in html, bad
    assert "<b>there</b>" in html
    assert 'href="https://ok.example"' in html
    assert 'rel="noopener noreferrer nofollow"' in html
    assert message["body_text"].startswith("Hello there")
    assert "alert" not in message["body_text"]


async def test_html_on_the_first_message_is_sanitised(
    client: httpx.AsyncClient, agent: Actor
) -> None:
    ticket = await create_ticket(
        client, agent, body="", body_html="<div>Hi<script>x()</script></div>"
    )
    messages = await client.get(f"{API}/{ticket['id']}/messages", headers=agent.headers)
    first = messages.json()["items"][0]
    assert first["body_html"] == "<div>Hi</div>"
    assert first["body_text"] == "Hi"
    assert first["author_type"] == "customer"


async def test_messages_are_listed_oldest_first_in_pages(
    client: httpx.AsyncClient, agent: Actor
) -> None:
    ticket = await create_ticket(client, agent)
    for n in range(4):
        visibility = "note" if n % 2 else "public"
        await post(client, agent, ticket["id"], body=f"message {n}", visibility=visibility)
    url = f"{API}/{ticket['id']}/messages"
    everything = (await client.get(url, headers=agent.headers)).json()
    texts = [m["body_text"] for m in everything["items"]]
    assert texts == [
        "The parcel never arrived. Please refund me.",
        "message 0",
        "message 1",
        "message 2",
        "message 3",
    ]
    assert everything["next_cursor"] is None
    first = (await client.get(url, params={"limit": 3}, headers=agent.headers)).json()
    rest = (
        await client.get(url, params={"cursor": first["next_cursor"]}, headers=agent.headers)
    ).json()
    assert [m["id"] for m in first["items"] + rest["items"]] == [
        m["id"] for m in everything["items"]
    ]
    bad = await client.get(url, params={"cursor": "garbage!"}, headers=agent.headers)
    assert bad.status_code == 422


async def test_closed_ticket_refuses_messages(client: httpx.AsyncClient, agent: Actor) -> None:
    ticket = await create_ticket(client, agent)
    await client.patch(f"{API}/{ticket['id']}", json={"status": "closed"}, headers=agent.headers)
    for body in ({"body": "hello?"}, {"body": "hello?", "author_type": "customer"}):
        refused = await post(client, agent, ticket["id"], **body)
        assert refused.status_code == 409
        assert refused.headers["content-type"] == "application/problem+json"
    assert (await ticket_of(client, agent, ticket["id"]))["message_count"] == 1


async def test_no_messages_on_tickets_you_cannot_see(
    client: httpx.AsyncClient, agent: Actor, people: People
) -> None:
    lead = people.user("supervisor")
    private = people.team(private=True)
    ticket = await create_ticket(client, lead, team_id=private)
    assert (await post(client, agent, ticket["id"], body="hi")).status_code == 404
    listed = await client.get(f"{API}/{ticket['id']}/messages", headers=agent.headers)
    assert listed.status_code == 404
    history = await client.get(f"{API}/{ticket['id']}/history", headers=agent.headers)
    assert history.status_code == 404
    assert (await post(client, lead, 999_999, body="hi")).status_code == 404


async def test_message_event_is_published(
    client: httpx.AsyncClient, agent: Actor, app: FastAPI
) -> None:
    seen: list[dict[str, Any]] = []
    app.state.runtime.bus.subscribe("message.created", lambda e: seen.append(e.payload))
    ticket = await create_ticket(client, agent, channel="email")
    note = (await post(client, agent, ticket["id"], body="x", visibility="note")).json()
    await app.state.runtime.bus.drain()
    assert seen[-1] == {
        "ticket_id": ticket["id"],
        "message_id": note["id"],
        "author_type": "agent",
        "visibility": "note",
        "channel": "email",
    }
    assert seen[0]["author_type"] == "customer"


async def test_a_reply_that_changes_nothing_else_still_moves_updated_at(
    client: httpx.AsyncClient, agent: Actor, clock: FrozenClock
) -> None:
    """The second reply and a customer's message on an open ticket write only
    ``updated_at`` (without loading the ticket): the ticket shows when it last moved."""
    ticket = await create_ticket(client, agent)
    await post(client, agent, ticket["id"], body="First answer")
    version = (await ticket_of(client, agent, ticket["id"]))["version"]
    for author in ("agent", "customer"):
        clock.advance(minutes=7)
        assert (await post(client, agent, ticket["id"], body="More", author_type=author)).is_success
        after = await ticket_of(client, agent, ticket["id"])
        assert after["updated_at"] == iso(clock)
        assert (after["status"], after["version"]) == ("open", version)


async def test_a_message_keeps_the_ticket_loaded_in_its_transaction_current(
    client: httpx.AsyncClient, agent: Actor, runtime: Runtime, clock: FrozenClock
) -> None:
    ticket = await create_ticket(client, agent)
    clock.advance(minutes=3)

    def job(ctx: Ctx) -> tuple[datetime, str]:
        loaded = tickets.load_ticket(ctx, None, ticket["id"])
        conversation.record_customer_message(
            ctx,
            ticket["id"],
            channel="api",
            body_text="hello",
            body_html="<p>hello</p>",
            external_id=None,
            attachment_ids=[],
        )
        head = tickets.ticket_head(ctx, None, ticket["id"], write=True)
        return loaded.updated_at, head.status

    updated_at, status = runtime.db.run_write(job)
    assert updated_at == clock.now()
    assert status == "new"
    assert (await ticket_of(client, agent, ticket["id"]))["updated_at"] == iso(clock)


async def test_the_head_of_a_hidden_or_closed_ticket_is_refused_as_load_ticket_is(
    client: httpx.AsyncClient, agent: Actor, runtime: Runtime
) -> None:
    ticket = await create_ticket(client, agent)
    await client.patch(f"{API}/{ticket['id']}", json={"status": "closed"}, headers=agent.headers)

    def head(ctx: Ctx, ticket_id: int, write: bool) -> str:
        return tickets.ticket_head(ctx, None, ticket_id, write=write).status

    assert runtime.db.run_write(head, ticket["id"], False) == "closed"
    with pytest.raises(Conflict):
        runtime.db.run_write(head, ticket["id"], True)
    with pytest.raises(NotFound):
        runtime.db.run_write(head, 10**9, False)


async def test_a_reply_taking_a_deleted_messages_id_is_still_sent(
    client: httpx.AsyncClient, runtime: Runtime, agent: Actor, people: People
) -> None:
    """SQLite gives a new row the id of the highest one deleted: a reply that takes a
    deleted reply's id must be queued afresh, not matched to the old send's key."""
    admin = people.user("admin")
    gone = await create_ticket(client, agent, channel="email", subject="Spam")
    other = await create_ticket(client, agent, channel="email", subject="Real")
    old = (await post(client, agent, gone["id"], body="Thanks!")).json()
    old_item = await runtime.db.read(outbox.item_for_key, tickets.message_key(old["id"]))
    assert old_item is not None
    deleted = await client.delete(f"{API}/{gone['id']}", headers=admin.headers)
    assert deleted.status_code == 204, deleted.text
    assert await runtime.db.read(outbox.item_for_key, tickets.message_key(old["id"])) is None
    new = (await post(client, agent, other["id"], body="On its way.")).json()
    if runtime.db.dialect == "sqlite":
        assert new["id"] == old["id"]  # the id was reused
    new_item = await runtime.db.read(outbox.item_for_key, tickets.message_key(new["id"]))
    assert new_item is not None and new_item != old_item
