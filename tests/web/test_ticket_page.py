"""The ticket page: timeline, composer, side panel with custom fields, edit conflicts,
canned replies, merge / split / link, history."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import Actor, People, create_ticket, define_field
from tests.web.conftest import SignIn


async def api_ticket(client: httpx.AsyncClient, actor: Actor, ticket_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/tickets/{ticket_id}", headers=actor.headers)
    return dict(response.json())


def version_in(html: str) -> str:
    match = re.search(r'name="version" value="(\d+)"', html)
    assert match is not None
    return match.group(1)


async def test_timeline_shows_messages_notes_and_changes(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    ticket = await create_ticket(client, admin, body="Where is my <b>parcel</b>?")
    url = f"/api/v1/tickets/{ticket['id']}/messages"
    await client.post(
        url, json={"body": "Checking with the courier", "visibility": "note"}, headers=admin.headers
    )
    await client.patch(
        f"/api/v1/tickets/{ticket['id']}", json={"priority": "high"}, headers=admin.headers
    )
    b = await browser(admin)
    page = await b.get(f"/tickets/{ticket['id']}")
    assert page.status_code == 200
    assert "Where is my &lt;b&gt;parcel&lt;/b&gt;?" in page.text  # plain text is escaped
    assert 'class="msg note' in page.text and "Internal note" in page.text
    assert "set Priority to High" in page.text
    assert 'data-live="/live?ticket=' in page.text


async def test_a_hidden_ticket_is_a_404_page(
    client: httpx.AsyncClient, browser: SignIn, people: People, admin: Actor
) -> None:
    secret = people.team("Legal", private=True)
    ticket = await create_ticket(client, admin, team_id=secret)
    outsider = await browser(people.user("agent"))
    response = await outsider.get(f"/tickets/{ticket['id']}")
    assert response.status_code == 404
    assert "This page does not exist, or you cannot see it." in response.text


async def test_reply_note_and_send_and_set_status(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    ticket = await create_ticket(client, admin)
    b = await browser(admin)
    path = f"/tickets/{ticket['id']}/messages"
    reply = await b.post(
        path, {"mode": "reply", "body": "We sent a new one.", "then_status": "pending"}
    )
    assert reply.status_code == 200 and reply.headers["HX-Trigger"] == "ticket-saved"
    assert 'id="composer"' in reply.text  # a fresh composer
    await b.post(path, {"mode": "note", "body": "Courier ref 123"})
    messages = (await client.get(f"/api/v1{path}", headers=admin.headers)).json()["items"]
    assert [(m["visibility"], m["body_text"]) for m in messages[1:]] == [
        ("public", "We sent a new one."),
        ("note", "Courier ref 123"),
    ]
    assert (await api_ticket(client, admin, ticket["id"]))["status"] == "pending"
    empty = await b.post(path, {"mode": "reply", "body": "  "})
    assert empty.status_code == 422
    assert empty.headers["HX-Retarget"] == "#flash"


async def test_solving_with_a_required_field_empty_is_refused_with_the_field(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    await define_field(client, admin, "order_number", "text", required=True)
    ticket = await create_ticket(client, admin)
    b = await browser(admin)
    response = await b.post(
        f"/tickets/{ticket['id']}/messages", {"body": "Done", "then_status": "solved"}
    )
    assert response.status_code == 422
    assert "order_number" in response.text
    assert (await api_ticket(client, admin, ticket["id"]))["message_count"] == 1  # nothing kept


async def test_attachments_uploaded_then_sent_with_the_message(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    ticket = await create_ticket(client, admin)
    b = await browser(admin)
    upload = await b.http.post(
        "/api/v1/attachments",
        files={"file": ("notes.txt", b"serial KF-100-42", "text/plain")},
        headers={"X-CSRF-Token": b.csrf},
    )
    assert upload.status_code == 201, upload.text
    await b.post(
        f"/tickets/{ticket['id']}/messages",
        {"body": "See file", "attachment_ids": [str(upload.json()["id"])]},
    )
    page = await b.get(f"/tickets/{ticket['id']}")
    assert "notes.txt" in page.text and f"/api/v1/attachments/{upload.json()['id']}" in page.text


async def test_side_panel_saves_fields_and_custom_widgets(
    client: httpx.AsyncClient, browser: SignIn, people: People, admin: Actor
) -> None:
    await define_field(client, admin, "units", "number")
    await define_field(client, admin, "model", "select", options=["KF-100", "KF-200"])
    await define_field(client, admin, "parts", "multi_select", options=["screen", "battery", "fan"])
    await define_field(client, admin, "warranty", "checkbox")
    await define_field(client, admin, "bought", "date")
    mate = people.user("agent", name="Mate")
    ticket = await create_ticket(client, admin)
    b = await browser(admin)
    side = await b.get(f"/tickets/{ticket['id']}/side", htmx=True)
    for widget in (
        'type="number" step="any"',
        'name="cf.model"',
        'value="battery"',
        'type="date"',
        'type="checkbox" id="f-cf-warranty"',
    ):
        assert widget in side.text
    form = {
        "version": version_in(side.text),
        "status": "open",
        "priority": "high",
        "assignee_id": str(mate.id),
        "tags": "vip，退款",
        "type": "incident",
        "cf.units.shown": "1",
        "cf.units": "3",
        "cf.model.shown": "1",
        "cf.model": "KF-200",
        "cf.parts.shown": "1",
        "cf.parts": ["fan", "screen"],
        "cf.warranty.shown": "1",
        "cf.bought.shown": "1",
        "cf.bought": "2026-03-01",
    }
    saved = await b.post(f"/tickets/{ticket['id']}/fields", form)
    assert saved.status_code == 200, saved.text
    stored = await api_ticket(client, admin, ticket["id"])
    assert stored["custom_fields"] == {
        "units": 3,
        "model": "KF-200",
        "parts": ["screen", "fan"],
        "bought": "2026-03-01",
    }
    assert "warranty" not in stored["custom_fields"]  # an untouched box stays unset
    assert (stored["assignee"]["id"], stored["priority"], stored["type"]) == (
        mate.id,
        "high",
        "incident",
    )
    assert stored["tags"] == ["vip", "退款"]
    assert version_in(saved.text) == str(stored["version"])


async def test_invalid_custom_field_input_is_shown_beside_the_field(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    await define_field(client, admin, "units", "number")
    ticket = await create_ticket(client, admin)
    b = await browser(admin)
    side = await b.get(f"/tickets/{ticket['id']}/side", htmx=True)
    form = {"version": version_in(side.text), "cf.units.shown": "1", "cf.units": "three"}
    response = await b.post(f"/tickets/{ticket['id']}/fields", form)
    assert response.status_code == 422
    assert 'value="three" aria-invalid="true"' in response.text
    assert "must be a number" in response.text


async def test_saving_over_someone_elses_change_is_refused(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    ticket = await create_ticket(client, admin)
    b = await browser(admin)
    side = await b.get(f"/tickets/{ticket['id']}/side", htmx=True)
    stale = version_in(side.text)
    await client.patch(
        f"/api/v1/tickets/{ticket['id']}", json={"priority": "urgent"}, headers=admin.headers
    )
    response = await b.post(
        f"/tickets/{ticket['id']}/fields", {"version": stale, "priority": "low"}
    )
    assert response.status_code == 409
    assert response.headers["HX-Retarget"] == "#side-alert"
    assert "someone else changed this ticket while you were editing" in response.text
    assert (await api_ticket(client, admin, ticket["id"]))["priority"] == "urgent"


async def test_canned_reply_fills_its_placeholders(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    ticket = await create_ticket(client, admin)
    b = await browser(admin)
    created = await b.post(
        "/admin/canned",
        {
            "title": "Greeting",
            "body": "Hello {customer.first_name}, about #{ticket.id}: {agent.name}",
        },
    )
    assert created.status_code == 204, created.text
    picker = await b.get(f"/tickets/{ticket['id']}/canned", htmx=True, q="greet")
    reply_id = re.search(r'/canned/(\d+)"', picker.text)
    assert reply_id is not None
    filled = await b.post(f"/tickets/{ticket['id']}/canned/{reply_id.group(1)}", {"body": "Hi"})
    name = admin.email.split("@")[0]
    assert f"Hi\n\nHello Alice, about #{ticket['id']}: {name}" in filled.text


async def test_merge_split_and_link_from_the_page(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    first, second, third = [await create_ticket(client, admin) for _ in range(3)]
    b = await browser(admin)
    linked = await b.post(
        f"/tickets/{first['id']}/links", {"other_id": str(third["id"]), "kind": "related"}
    )
    assert f'href="/tickets/{third["id"]}"' in linked.text
    merged = await b.post(
        f"/tickets/{first['id']}/merge", {"other_id": str(second["id"]), "direction": "into_this"}
    )
    assert merged.headers["HX-Redirect"] == f"/tickets/{first['id']}"
    assert (await api_ticket(client, admin, second["id"]))["merged_into_id"] == first["id"]
    messages = (
        await client.get(f"/api/v1/tickets/{first['id']}/messages", headers=admin.headers)
    ).json()["items"]
    split = await b.post(f"/tickets/{first['id']}/split/{messages[-1]['id']}")
    new_id = int(split.headers["HX-Redirect"].rsplit("/", 1)[1])
    assert (await api_ticket(client, admin, new_id))["message_count"] == 1
    history = await b.get(f"/tickets/{first['id']}/history", htmx=True)
    assert "merged in" in history.text and "linked" in history.text


async def test_timeline_endpoint_returns_only_newer_entries(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    ticket = await create_ticket(client, admin)
    b = await browser(admin)
    page = await b.get(f"/tickets/{ticket['id']}")
    last_message = max(int(m) for m in re.findall(r'data-mid="(\d+)"', page.text))
    last_event = max([int(e) for e in re.findall(r'data-eid="(\d+)"', page.text)] or [0])
    await client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "Any news?", "author_type": "customer"},
        headers=admin.headers,
    )
    newer = await b.get(
        f"/tickets/{ticket['id']}/timeline",
        htmx=True,
        after_message=last_message,
        after_event=last_event,
    )
    assert "Any news?" in newer.text
    assert re.findall(r'data-mid="(\d+)"', newer.text) != [] and str(
        last_message
    ) not in re.findall(r'data-mid="(\d+)"', newer.text)


async def test_new_ticket_form_creates_a_ticket(
    browser: SignIn, client: httpx.AsyncClient, admin: Actor
) -> None:
    b = await browser(admin)
    form = {
        "requester": "bob@example.com",
        "requester_name": "Bob",
        "subject": "Phoned about invoice",
        "body": "He needs a copy",
        "channel": "phone",
        "priority": "normal",
    }
    response = await b.post("/tickets/new", form)
    ticket_id = int(response.headers["HX-Redirect"].rsplit("/", 1)[1])
    ticket = await api_ticket(client, admin, ticket_id)
    assert (ticket["subject"], ticket["channel"], ticket["requester"]["email"]) == (
        "Phoned about invoice",
        "phone",
        "bob@example.com",
    )


async def test_a_field_engineer_updates_status_and_fields_only(
    client: httpx.AsyncClient, browser: SignIn, people: People, admin: Actor
) -> None:
    engineer = people.user("field_engineer")
    ticket = await create_ticket(client, admin, assignee_id=engineer.id)
    b = await browser(engineer)
    side = await b.get(f"/tickets/{ticket['id']}/side", htmx=True)
    assert '<select disabled id="f-assignee"' in side.text
    form = {
        "version": version_in(side.text),
        "status": "pending",
        "tags": "parts-ordered",
        "priority": "urgent",
    }
    saved = await b.post(f"/tickets/{ticket['id']}/fields", form)
    assert saved.status_code == 200, saved.text
    stored = await api_ticket(client, admin, ticket["id"])
    assert (stored["status"], stored["tags"], stored["priority"]) == (
        "pending",
        ["parts-ordered"],
        "normal",
    )
