"""Customers and companies over HTTP: identities, profiles, typed attributes, merge."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Actor, create_ticket, define_field

CUSTOMERS = "/api/v1/customers"
COMPANIES = "/api/v1/companies"


async def new_customer(client: httpx.AsyncClient, actor: Actor, **body: Any) -> dict[str, Any]:
    response = await client.post(CUSTOMERS, json=body, headers=actor.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def locs(response: httpx.Response) -> list[list[Any]]:
    return [e["loc"] for e in response.json().get("errors") or []]


async def test_identities_are_normalised(client: httpx.AsyncClient, agent: Actor) -> None:
    customer = await new_customer(
        client,
        agent,
        name="Li Na",
        email="  Li.Na@Example.COM ",
        phone="(010) 6552-9988",
        identities=[
            {"kind": "whatsapp", "value": "+44 7700 900123"},
            {"kind": "wechat", "value": "  oAbc123  "},
        ],
    )
    assert customer["email"] == "li.na@example.com"
    assert customer["phone"] == "+861065529988"
    assert [(i["kind"], i["value"]) for i in customer["identities"]] == [
        ("email", "li.na@example.com"),
        ("whatsapp", "+447700900123"),
        ("wechat", "oAbc123"),
        ("phone", "+861065529988"),
    ]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"email": "nope"}, ["body", "email"]),
        ({"phone": "abc"}, ["body", "phone"]),
        ({"identities": [{"kind": "fax", "value": "1"}]}, ["body", "identities", 0, "kind"]),
        ({"identities": [{"kind": "phone", "value": "1"}]}, ["body", "identities", 0]),
        ({}, ["body"]),
        ({"name": "x", "language": "klingon"}, ["body", "language"]),
        ({"name": "x", "time_zone": "Mars/Olympus"}, ["body", "time_zone"]),
        ({"name": "x", "tags": ["bad tag!"]}, ["body", "tags"]),
        ({"name": "x", "company_id": 999_999}, ["body", "company_id"]),
    ],
)
async def test_bad_customers_are_422(
    client: httpx.AsyncClient, agent: Actor, body: dict[str, Any], loc: list[Any]
) -> None:
    response = await client.post(CUSTOMERS, json=body, headers=agent.headers)
    assert response.status_code == 422, response.text
    assert loc in locs(response), response.json()


async def test_an_identity_has_one_owner(client: httpx.AsyncClient, agent: Actor) -> None:
    first = await new_customer(client, agent, email="dup@example.com")
    clash = await client.post(
        CUSTOMERS, json={"name": "Other", "email": "DUP@example.com"}, headers=agent.headers
    )
    assert clash.status_code == 409
    assert clash.headers["content-type"] == "application/problem+json"
    second = await new_customer(client, agent, name="Other", phone="+8613800000001")
    added = await client.patch(
        f"{CUSTOMERS}/{second['id']}",
        json={"add_identities": [{"kind": "email", "value": "dup@example.com"}]},
        headers=agent.headers,
    )
    assert added.status_code == 409
    mine_again = await client.patch(
        f"{CUSTOMERS}/{first['id']}",
        json={"add_identities": [{"kind": "email", "value": "Dup@Example.com"}]},
        headers=agent.headers,
    )
    assert mine_again.status_code == 200
    assert len(mine_again.json()["identities"]) == 1


async def test_update_profile_and_identities(client: httpx.AsyncClient, agent: Actor) -> None:
    company = (await client.post(COMPANIES, json={"name": "Acme"}, headers=agent.headers)).json()
    customer = await new_customer(client, agent, name="Zhou", email="zhou@example.com", tags=["a"])
    email_id = customer["identities"][0]["id"]
    response = await client.patch(
        f"{CUSTOMERS}/{customer['id']}",
        json={
            "name": "Zhou Min",
            "tier": "vip",
            "language": "zh",
            "time_zone": "Asia/Shanghai",
            "notes": "prefers WeChat",
            "tags": ["Gold", "a"],
            "company_id": company["id"],
            "add_identities": [{"kind": "wechat", "value": "o-zhou"}],
            "remove_identity_ids": [email_id],
        },
        headers=agent.headers,
    )
    assert response.status_code == 200, response.text
    got = response.json()
    assert (got["name"], got["tier"], got["language"], got["time_zone"]) == (
        "Zhou Min",
        "vip",
        "zh_CN",
        "Asia/Shanghai",
    )
    assert got["notes"] == "prefers WeChat"
    assert got["tags"] == ["a", "gold"]
    assert got["company"] == {"id": company["id"], "name": "Acme"}
    assert got["email"] is None
    assert [(i["kind"], i["value"]) for i in got["identities"]] == [("wechat", "o-zhou")]
    cleared = await client.patch(
        f"{CUSTOMERS}/{customer['id']}",
        json={"language": None, "company_id": None},
        headers=agent.headers,
    )
    assert (cleared.json()["language"], cleared.json()["company"]) == (None, None)
    assert (
        await client.patch(f"{CUSTOMERS}/999999", json={}, headers=agent.headers)
    ).status_code == 404


async def test_typed_attributes(client: httpx.AsyncClient, agent: Actor, admin: Actor) -> None:
    await define_field(client, admin, "plan", "select", entity="customer", options=["free", "pro"])
    await define_field(client, admin, "seats", "number", entity="customer")
    await define_field(client, admin, "ticket_only", "text")  # a ticket field, not a customer one
    customer = await new_customer(client, agent, name="Q", attributes={"plan": "pro", "seats": 5})
    assert customer["attributes"] == {"plan": "pro", "seats": 5}
    bad = await client.post(
        CUSTOMERS,
        json={"name": "R", "attributes": {"plan": "gold", "seats": "many", "ticket_only": "x"}},
        headers=agent.headers,
    )
    assert bad.status_code == 422
    assert sorted(locs(bad)) == [
        ["body", "attributes", "plan"],
        ["body", "attributes", "seats"],
        ["body", "attributes", "ticket_only"],
    ]
    changed = await client.patch(
        f"{CUSTOMERS}/{customer['id']}",
        json={"attributes": {"seats": None, "plan": "free"}},
        headers=agent.headers,
    )
    assert changed.json()["attributes"] == {"plan": "free"}


async def test_list_and_search(client: httpx.AsyncClient, agent: Actor) -> None:
    a = await new_customer(client, agent, name="Alice Wu", email="alice@wu.example", tags=["vip"])
    b = await new_customer(client, agent, name="Bob", phone="+8613900000000", tier="vip")
    c = await new_customer(client, agent, name="Carol", email="carol@example.com")

    async def ids(**params: Any) -> list[int]:
        response = await client.get(CUSTOMERS, params=params, headers=agent.headers)
        assert response.status_code == 200, response.text
        return [x["id"] for x in response.json()["items"]]

    assert await ids() == [a["id"], b["id"], c["id"]]
    assert await ids(q="ALICE") == [a["id"]]
    assert await ids(q="139000") == [b["id"]]
    assert await ids(q="example.com") == [c["id"]]
    assert await ids(tag="vip") == [a["id"]]
    assert await ids(tag=" VIP ") == [a["id"]]
    assert await ids(q="%") == []
    assert await ids(q="_") == []
    assert await ids(tier="vip") == [b["id"]]
    first = (await client.get(CUSTOMERS, params={"limit": 2}, headers=agent.headers)).json()
    assert [x["id"] for x in first["items"]] == [a["id"], b["id"]]
    rest = await ids(cursor=first["next_cursor"])
    assert rest == [c["id"]]
    for cursor in ("garbage", "WyJ4Il0"):  # the second is ["x"]
        bad = await client.get(CUSTOMERS, params={"cursor": cursor}, headers=agent.headers)
        assert bad.status_code == 422, cursor


async def test_merge_folds_one_customer_into_another(
    client: httpx.AsyncClient, agent: Actor
) -> None:
    keep = await new_customer(client, agent, name="Wei", email="wei@example.com", tags=["vip"])
    dup = await new_customer(
        client, agent, name="Wei (phone)", phone="+8613812345678", tags=["phone"]
    )
    ticket = await create_ticket(client, agent, requester={"id": dup["id"]})
    merged = await client.post(
        f"{CUSTOMERS}/{keep['id']}/merge", json={"source_id": dup["id"]}, headers=agent.headers
    )
    assert merged.status_code == 200, merged.text
    survivor = merged.json()
    assert survivor["tags"] == ["phone", "vip"]
    assert {i["value"] for i in survivor["identities"]} == {"wei@example.com", "+8613812345678"}
    assert survivor["phone"] == "+8613812345678"
    tombstone = (await client.get(f"{CUSTOMERS}/{dup['id']}", headers=agent.headers)).json()
    assert tombstone["merged_into_id"] == keep["id"]
    assert tombstone["identities"] == []
    moved = (await client.get(f"/api/v1/tickets/{ticket['id']}", headers=agent.headers)).json()
    assert moved["requester"]["id"] == keep["id"]
    messages = await client.get(f"/api/v1/tickets/{ticket['id']}/messages", headers=agent.headers)
    assert messages.json()["items"][0]["author"]["id"] == keep["id"]
    listed = await client.get(CUSTOMERS, headers=agent.headers)
    assert [c["id"] for c in listed.json()["items"]] == [keep["id"]]
    again = await create_ticket(client, agent, requester={"phone": "138 1234 5678"})
    assert again["requester"]["id"] == keep["id"]
    for body, status in (
        ({"source_id": dup["id"]}, 409),
        ({"source_id": keep["id"]}, 422),
        ({"source_id": 999_999}, 404),
    ):
        response = await client.post(
            f"{CUSTOMERS}/{keep['id']}/merge", json=body, headers=agent.headers
        )
        assert response.status_code == status, body
    edit = await client.patch(f"{CUSTOMERS}/{dup['id']}", json={"name": "x"}, headers=agent.headers)
    assert edit.status_code == 409


async def test_companies_crud(client: httpx.AsyncClient, agent: Actor, admin: Actor) -> None:
    made = await client.post(
        COMPANIES,
        json={
            "name": "Acme",
            "domain": "acme.example",
            "tier": "enterprise",
            "attributes": {"x": 1},
        },
        headers=agent.headers,
    )
    assert made.status_code == 201, made.text
    company = made.json()
    assert (company["customer_count"], company["tier"]) == (0, "enterprise")
    assert (
        await client.post(COMPANIES, json={"name": "Acme"}, headers=agent.headers)
    ).status_code == 409
    other = (await client.post(COMPANIES, json={"name": "Beta"}, headers=agent.headers)).json()
    await new_customer(client, agent, name="E1", company_id=company["id"])
    await new_customer(client, agent, name="E2", company_id=company["id"])
    got = await client.get(f"{COMPANIES}/{company['id']}", headers=agent.headers)
    assert got.json()["customer_count"] == 2
    renamed = await client.patch(
        f"{COMPANIES}/{company['id']}",
        json={"name": "Acme Ltd", "domain": None},
        headers=agent.headers,
    )
    assert (renamed.json()["name"], renamed.json()["domain"]) == ("Acme Ltd", None)
    clash = await client.patch(
        f"{COMPANIES}/{other['id']}", json={"name": "Acme Ltd"}, headers=agent.headers
    )
    assert clash.status_code == 409
    listed = await client.get(COMPANIES, params={"q": "acme"}, headers=agent.headers)
    assert [c["id"] for c in listed.json()["items"]] == [company["id"]]
    page = await client.get(COMPANIES, params={"limit": 1}, headers=agent.headers)
    rest = await client.get(
        COMPANIES, params={"cursor": page.json()["next_cursor"]}, headers=agent.headers
    )
    assert [c["id"] for c in page.json()["items"] + rest.json()["items"]] == [
        company["id"],
        other["id"],
    ]
    gone = await client.delete(f"{COMPANIES}/{company['id']}", headers=agent.headers)
    assert gone.status_code == 204
    assert (
        await client.get(f"{COMPANIES}/{company['id']}", headers=agent.headers)
    ).status_code == 404
    orphans = await client.get(CUSTOMERS, params={"q": "E"}, headers=agent.headers)
    assert all(c["company"] is None for c in orphans.json()["items"])
    assert (
        await client.delete(f"{COMPANIES}/{company['id']}", headers=agent.headers)
    ).status_code == 404
