"""Tickets over HTTP: create, read, change, delete, and the problem details of each refusal."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kefu.config import Settings
from kefu.kit.time import FrozenClock
from kefu.main import create_app
from tests.conftest import Actor, People, create_ticket, define_field, ticket_body

API = "/api/v1/tickets"


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> FastAPI:
    return create_app(settings, clock)


def locs(response: httpx.Response) -> list[list[Any]]:
    assert response.headers["content-type"].startswith("application/problem+json")
    return [e["loc"] for e in response.json().get("errors") or []]


async def history_of(
    client: httpx.AsyncClient, actor: Actor, ticket_id: int
) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/{ticket_id}/history", headers=actor.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# -- create --------------------------------------------------------------------------------
async def test_create_and_read_ticket(client: httpx.AsyncClient, agent: Actor) -> None:
    created = await client.post(API, json=ticket_body(tags=["VIP", "退款"]), headers=agent.headers)
    assert created.status_code == 201, created.text
    ticket = created.json()
    assert ticket["requester"]["email"] == "alice@example.com"
    assert ticket["tags"] == ["vip", "退款"]
    assert created.headers["etag"] == 'W/"1"'
    assert created.headers["location"] == f"{API}/{ticket['id']}"
    fetched = await client.get(f"{API}/{ticket['id']}", headers=agent.headers)
    assert fetched.status_code == 200
    assert fetched.headers["etag"] == 'W/"1"'
    assert fetched.json()["subject"] == "Refund for order 1042"
    assert fetched.json()["message_count"] == 1
    assert fetched.json()["status"] == "new"


async def test_create_answers_what_a_read_answers(client: httpx.AsyncClient, agent: Actor) -> None:
    created = await create_ticket(client, agent, tags=["a"], type="question", category="billing")
    fetched = (await client.get(f"{API}/{created['id']}", headers=agent.headers)).json()
    assert created == fetched


async def test_requester_found_by_email_whatever_its_case(
    client: httpx.AsyncClient, agent: Actor
) -> None:
    first = await create_ticket(
        client, agent, requester={"email": "Bob@Example.COM", "name": "Bob"}
    )
    second = await create_ticket(client, agent, requester={"email": " bob@example.com"})
    assert first["requester"]["id"] == second["requester"]["id"]
    assert second["requester"] == {
        "id": first["requester"]["id"],
        "name": "Bob",
        "email": "bob@example.com",
    }
    found = await client.get("/api/v1/customers", params={"q": "bob@"}, headers=agent.headers)
    assert [c["id"] for c in found.json()["items"]] == [first["requester"]["id"]]


async def test_requester_found_by_phone_in_any_notation(
    client: httpx.AsyncClient, agent: Actor
) -> None:
    first = await create_ticket(client, agent, requester={"phone": "138 0013 8000", "name": "Wang"})
    second = await create_ticket(client, agent, requester={"phone": "+86-138-0013-8000"})
    assert first["requester"]["id"] == second["requester"]["id"]
    assert second["requester"]["name"] == "Wang"
    customer = await client.get(
        f"/api/v1/customers/{first['requester']['id']}", headers=agent.headers
    )
    assert customer.json()["phone"] == "+8613800138000"


async def test_requester_by_id(client: httpx.AsyncClient, agent: Actor) -> None:
    made = await client.post(
        "/api/v1/customers",
        json={"name": "Carol Chen", "email": "carol@example.com"},
        headers=agent.headers,
    )
    customer_id = made.json()["id"]
    ticket = await create_ticket(client, agent, requester={"id": customer_id})
    assert ticket["requester"] == {
        "id": customer_id,
        "name": "Carol Chen",
        "email": "carol@example.com",
    }


@pytest.mark.parametrize(
    ("requester", "loc"),
    [
        ({"id": 999_999}, ["body", "requester", "id"]),
        ({"name": "nobody"}, ["body", "requester"]),
        ({"email": "not-an-email"}, ["body", "requester", "email"]),
        ({"phone": "12"}, ["body", "requester", "phone"]),
    ],
)
async def test_bad_requester_is_422_at_the_field(
    client: httpx.AsyncClient, agent: Actor, requester: dict[str, Any], loc: list[Any]
) -> None:
    response = await client.post(API, json=ticket_body(requester=requester), headers=agent.headers)
    assert response.status_code == 422, response.text
    assert loc in locs(response)


async def test_tags_are_normalised_and_checked(client: httpx.AsyncClient, agent: Actor) -> None:
    ticket = await create_ticket(client, agent, tags=[" VIP ", "Big Order", "vip", "退款"])
    assert ticket["tags"] == ["big-order", "vip", "退款"]
    bad = await client.post(API, json=ticket_body(tags=["ok", "no<script>"]), headers=agent.headers)
    assert bad.status_code == 422
    assert locs(bad)[0][:2] == ["body", "tags"]


async def test_create_validates_the_basics(client: httpx.AsyncClient, agent: Actor) -> None:
    cases = [
        ({"subject": ""}, ["body", "subject"]),
        ({"priority": "whenever"}, ["body", "priority"]),
        ({"status": "closed"}, ["body", "status"]),
        ({"channel": "Not A Channel"}, ["body", "channel"]),
        ({"surprise": 1}, ["body", "surprise"]),
        ({"assignee_id": 999_999}, ["body", "assignee_id"]),
        ({"team_id": 999_999}, ["body", "team_id"]),
        ({"follower_ids": [999_999]}, ["body", "follower_ids"]),
    ]
    for override, loc in cases:
        response = await client.post(API, json=ticket_body(**override), headers=agent.headers)
        assert response.status_code == 422, (override, response.text)
        assert loc in locs(response), (override, response.json())
    listed = await client.get(API, headers=agent.headers)
    assert listed.json()["items"] == []


async def test_assignee_must_belong_to_the_team(
    client: httpx.AsyncClient, agent: Actor, people: People
) -> None:
    team = people.team()
    response = await client.post(
        API, json=ticket_body(team_id=team, assignee_id=agent.id), headers=agent.headers
    )
    assert response.status_code == 422
    assert ["body", "assignee_id"] in locs(response)


async def test_blank_body_makes_no_message(client: httpx.AsyncClient, agent: Actor) -> None:
    ticket = await create_ticket(client, agent, body="   ")
    fetched = (await client.get(f"{API}/{ticket['id']}", headers=agent.headers)).json()
    assert ticket["message_count"] == fetched["message_count"] == 0


# -- custom fields ------------------------------------------------------------------------
@pytest.fixture
async def ticket_fields(client: httpx.AsyncClient, admin: Actor) -> None:
    await define_field(client, admin, "model", "text")
    await define_field(client, admin, "units", "number")
    await define_field(client, admin, "bought_on", "date")
    await define_field(client, admin, "region", "select", options=["north", "south"])
    await define_field(
        client, admin, "parts", "multi_select", options=["screen", "battery", "case"]
    )
    await define_field(client, admin, "warranty", "checkbox")


GOOD_VALUES = {
    "model": "X-200",
    "units": 2.5,
    "bought_on": "2025-12-01",
    "region": "north",
    "parts": ["case", "screen"],
    "warranty": True,
}


@pytest.mark.usefixtures("ticket_fields")
async def test_custom_fields_typed_on_create(client: httpx.AsyncClient, agent: Actor) -> None:
    ticket = await create_ticket(client, agent, custom_fields=GOOD_VALUES)
    assert ticket["custom_fields"] == {**GOOD_VALUES, "parts": ["screen", "case"]}
    fetched = (await client.get(f"{API}/{ticket['id']}", headers=agent.headers)).json()
    assert fetched["custom_fields"] == ticket["custom_fields"]


BAD_VALUES = {
    "model": 42,
    "units": "two",
    "bought_on": "01/12/2025",
    "region": "east",
    "parts": ["screen", "engine"],
    "warranty": "yes",
    "nope": 1,
}


@pytest.mark.usefixtures("ticket_fields")
async def test_every_bad_custom_value_is_named(client: httpx.AsyncClient, agent: Actor) -> None:
    response = await client.post(
        API, json=ticket_body(custom_fields=BAD_VALUES), headers=agent.headers
    )
    assert response.status_code == 422
    assert sorted(locs(response)) == sorted(["body", "custom_fields", k] for k in BAD_VALUES)


@pytest.mark.usefixtures("ticket_fields")
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("units", True),
        ("units", [1]),
        ("parts", "screen"),
        ("warranty", 1),
        ("bought_on", 20251201),
    ],
)
async def test_custom_values_of_the_wrong_json_type(
    client: httpx.AsyncClient, agent: Actor, key: str, value: Any
) -> None:
    response = await client.post(
        API, json=ticket_body(custom_fields={key: value}), headers=agent.headers
    )
    assert response.status_code == 422
    assert locs(response) == [["body", "custom_fields", key]]


@pytest.mark.usefixtures("ticket_fields")
async def test_a_number_must_be_finite(client: httpx.AsyncClient, agent: Actor) -> None:
    raw = (
        '{"subject": "s", "requester": {"email": "a@example.com"}, "custom_fields": {"units": NaN}}'
    )
    response = await client.post(
        API, content=raw, headers={**agent.headers, "content-type": "application/json"}
    )
    assert response.status_code in (400, 422), response.text
    assert response.status_code != 422 or locs(response) == [["body", "custom_fields", "units"]]


@pytest.mark.usefixtures("ticket_fields")
async def test_custom_fields_validated_on_update_and_cleared_by_null(
    client: httpx.AsyncClient, agent: Actor
) -> None:
    ticket = await create_ticket(client, agent, custom_fields={"model": "X-200", "units": 1})
    url = f"{API}/{ticket['id']}"
    bad = await client.patch(url, json={"custom_fields": {"region": "west"}}, headers=agent.headers)
    assert bad.status_code == 422
    assert locs(bad) == [["body", "custom_fields", "region"]]
    unknown = await client.patch(
        url, json={"custom_fields": {"colour": "red"}}, headers=agent.headers
    )
    assert locs(unknown) == [["body", "custom_fields", "colour"]]
    good = await client.patch(
        url, json={"custom_fields": {"model": None, "region": "south"}}, headers=agent.headers
    )
    assert good.status_code == 200, good.text
    assert good.json()["custom_fields"] == {"units": 1, "region": "south"}
    rows = [
        (h["field"], h["old_value"], h["new_value"])
        for h in await history_of(client, agent, ticket["id"])
    ]
    assert ("custom_fields.model", "X-200", None) in rows
    assert ("custom_fields.region", None, "south") in rows


async def test_inactive_field_takes_no_values(
    client: httpx.AsyncClient, agent: Actor, admin: Actor
) -> None:
    field = await define_field(client, admin, "legacy", "text")
    await client.patch(
        f"/api/v1/fields/{field['id']}", json={"active": False}, headers=admin.headers
    )
    response = await client.post(
        API, json=ticket_body(custom_fields={"legacy": "x"}), headers=agent.headers
    )
    assert locs(response) == [["body", "custom_fields", "legacy"]]


async def test_required_fields_are_enforced_when_solving(
    client: httpx.AsyncClient, agent: Actor, admin: Actor
) -> None:
    await define_field(
        client, admin, "resolution", "select", options=["fixed", "wontfix"], required=True
    )
    ticket = await create_ticket(client, agent)
    url = f"{API}/{ticket['id']}"
    refused = await client.patch(url, json={"status": "solved"}, headers=agent.headers)
    assert refused.status_code == 422
    assert locs(refused) == [["body", "custom_fields", "resolution"]]
    pending = await client.patch(url, json={"status": "pending"}, headers=agent.headers)
    assert pending.status_code == 200
    solved = await client.patch(
        url,
        json={"status": "solved", "custom_fields": {"resolution": "fixed"}},
        headers=agent.headers,
    )
    assert solved.status_code == 200, solved.text
    assert solved.json()["status"] == "solved"


async def test_required_fields_apply_to_tickets_created_solved(
    client: httpx.AsyncClient, agent: Actor, admin: Actor
) -> None:
    await define_field(client, admin, "resolution", "text", required=True)
    refused = await client.post(API, json=ticket_body(status="solved"), headers=agent.headers)
    assert refused.status_code == 422
    assert locs(refused) == [["body", "custom_fields", "resolution"]]
    ticket = await create_ticket(
        client, agent, status="solved", custom_fields={"resolution": "answered by phone"}
    )
    assert ticket["status"] == "solved"
    assert ticket["solved_at"] is not None


# -- get, update ---------------------------------------------------------------------------
async def test_unknown_ticket_is_404_problem(client: httpx.AsyncClient, agent: Actor) -> None:
    response = await client.get(f"{API}/424242", headers=agent.headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


async def test_patch_each_field_writes_history(
    client: httpx.AsyncClient, agent: Actor, people: People, clock: FrozenClock
) -> None:
    other = people.user("agent")
    team = people.team(members=[agent.id, other.id])
    ticket = await create_ticket(client, agent, tags=["a", "b"])
    made = await client.post("/api/v1/customers", json={"name": "Dee"}, headers=agent.headers)
    url = f"{API}/{ticket['id']}"
    patches: list[tuple[dict[str, Any], str, str | None, str | None]] = [
        (
            {"subject": "Where is my parcel?"},
            "subject",
            "Refund for order 1042",
            "Where is my parcel?",
        ),
        ({"priority": "urgent"}, "priority", "normal", "urgent"),
        ({"type": "incident"}, "type", None, "incident"),
        ({"category": "shipping"}, "category", None, "shipping"),
        ({"language": "zh"}, "language", None, "zh_CN"),
        ({"team_id": team}, "team_id", None, str(team)),
        ({"assignee_id": other.id}, "assignee_id", None, str(other.id)),
        (
            {"requester_id": made.json()["id"]},
            "requester_id",
            str(ticket["requester"]["id"]),
            str(made.json()["id"]),
        ),
        ({"tags": ["c"]}, "tags", "a, b", "c"),
        ({"add_tags": ["d"], "remove_tags": ["c"]}, "tags", "c", "d"),
        (
            {"follower_ids": [other.id, agent.id]},
            "follower_ids",
            "",
            ", ".join(map(str, sorted([agent.id, other.id]))),
        ),
        ({"status": "pending"}, "status", "new", "pending"),
    ]
    version = 1
    for body, field, old, new in patches:
        clock.advance(minutes=1)
        response = await client.patch(url, json=body, headers=agent.headers)
        assert response.status_code == 200, (body, response.text)
        version += 1
        assert response.json()["version"] == version
        assert response.headers["etag"] == f'W/"{version}"'
        assert response.json()["updated_at"] == clock.now().isoformat().replace("+00:00", "Z")
        last = (await history_of(client, agent, ticket["id"]))[-1]
        assert (last["kind"], last["field"], last["old_value"], last["new_value"]) == (
            "changed",
            field,
            old,
            new,
        ), body
        assert (last["actor_type"], last["actor_id"], last["actor_name"]) == (
            "user",
            agent.id,
            agent.email.split("@")[0],
        )
    final = (await client.get(url, headers=agent.headers)).json()
    assert final["subject"] == "Where is my parcel?"
    assert final["priority"] == "urgent"
    assert final["assignee"]["id"] == other.id
    assert final["team"] == {"id": team, "name": final["team"]["name"]}
    assert final["requester"]["name"] == "Dee"
    assert final["tags"] == ["d"]
    assert final["follower_ids"] == sorted([agent.id, other.id])


async def test_patch_without_change_keeps_the_version(
    client: httpx.AsyncClient, agent: Actor
) -> None:
    ticket = await create_ticket(client, agent)
    response = await client.patch(
        f"{API}/{ticket['id']}",
        json={"priority": "normal", "subject": ticket["subject"]},
        headers=agent.headers,
    )
    assert response.json()["version"] == 1
    assert [h["kind"] for h in await history_of(client, agent, ticket["id"])] == ["created"]


async def test_moving_team_drops_an_assignee_outside_it(
    client: httpx.AsyncClient, agent: Actor, people: People
) -> None:
    home, away = people.team(members=[agent.id]), people.team()
    ticket = await create_ticket(client, agent, team_id=home, assignee_id=agent.id)
    moved = await client.patch(
        f"{API}/{ticket['id']}", json={"team_id": away}, headers=agent.headers
    )
    assert moved.status_code == 200
    assert moved.json()["assignee"] is None
    assert moved.json()["team"]["id"] == away


async def test_if_match_guards_against_lost_updates(
    client: httpx.AsyncClient, agent: Actor
) -> None:
    ticket = await create_ticket(client, agent)
    url = f"{API}/{ticket['id']}"
    first = await client.patch(
        url, json={"priority": "high"}, headers={**agent.headers, "If-Match": 'W/"1"'}
    )
    assert first.status_code == 200
    assert first.headers["etag"] == 'W/"2"'
    stale = await client.patch(
        url, json={"priority": "low"}, headers={**agent.headers, "If-Match": 'W/"1"'}
    )
    assert stale.status_code == 409
    assert stale.headers["content-type"] == "application/problem+json"
    plain = await client.patch(
        url, json={"priority": "low"}, headers={**agent.headers, "If-Match": '"2"'}
    )
    assert plain.status_code == 200
    garbage = await client.patch(
        url, json={"priority": "low"}, headers={**agent.headers, "If-Match": "yesterday"}
    )
    assert garbage.status_code == 422
    assert locs(garbage) == [["header", "If-Match"]]
    assert (await client.get(url, headers=agent.headers)).json()["priority"] == "low"


async def test_status_rules(client: httpx.AsyncClient, agent: Actor, clock: FrozenClock) -> None:
    ticket = await create_ticket(client, agent)
    url = f"{API}/{ticket['id']}"
    solved = await client.patch(url, json={"status": "solved"}, headers=agent.headers)
    assert solved.json()["solved_at"] == clock.now().isoformat().replace("+00:00", "Z")
    back = await client.patch(url, json={"status": "new"}, headers=agent.headers)
    assert back.status_code == 422
    assert locs(back) == [["body", "status"]]
    reopened = await client.patch(url, json={"status": "open"}, headers=agent.headers)
    assert reopened.json()["solved_at"] is None
    clock.advance(hours=1)
    closed = await client.patch(url, json={"status": "closed"}, headers=agent.headers)
    assert (
        closed.json()["closed_at"]
        == closed.json()["solved_at"]
        == clock.now().isoformat().replace("+00:00", "Z")
    )
    for body in ({"status": "open"}, {"subject": "again"}, {"tags": ["x"]}):
        refused = await client.patch(url, json=body, headers=agent.headers)
        assert refused.status_code == 409, body
    assert (await client.get(url, headers=agent.headers)).json()["status"] == "closed"


# -- delete --------------------------------------------------------------------------------
async def test_only_leads_delete(client: httpx.AsyncClient, agent: Actor, people: People) -> None:
    ticket = await create_ticket(client, agent)
    url = f"{API}/{ticket['id']}"
    assert (await client.delete(url, headers=agent.headers)).status_code == 403
    lead = people.user("supervisor")
    assert (await client.delete(url, headers=lead.headers)).status_code == 204
    assert (await client.get(url, headers=lead.headers)).status_code == 404
    assert (await client.delete(url, headers=lead.headers)).status_code == 404
    found = await client.get(API, params={"q": "refund"}, headers=lead.headers)
    assert found.json()["items"] == []
