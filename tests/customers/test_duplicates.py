"""Merge suggestions: likely duplicate customers, confirmed with the customer merge."""

from __future__ import annotations

from typing import Any

import httpx

from kefu.customers.duplicates import canonical_email
from tests.conftest import Actor


async def customer(client: httpx.AsyncClient, actor: Actor, **body: Any) -> int:
    response = await client.post("/api/v1/customers", json=body, headers=actor.headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def company(client: httpx.AsyncClient, actor: Actor, name: str) -> int:
    response = await client.post("/api/v1/companies", json={"name": name}, headers=actor.headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def pairs(found: list[dict[str, Any]]) -> dict[frozenset[int], list[str]]:
    return {frozenset((s["customer"]["id"], s["other"]["id"])): s["reasons"] for s in found}


def test_canonical_mailbox() -> None:
    assert canonical_email("Alice.Liu+shop@GoogleMail.com") == "aliceliu@gmail.com"
    assert canonical_email("alice.liu+x@acme.com") == "alice.liu@acme.com"


async def test_likely_duplicates_are_suggested(client: httpx.AsyncClient, agent: Actor) -> None:
    acme = await company(client, agent, "Acme")
    phone = await customer(client, agent, name="Zhang Wei", phone="138 0013 8000")
    whatsapp = await customer(
        client, agent, name="张伟", identities=[{"kind": "whatsapp", "value": "+8613800138000"}]
    )
    gmail_a = await customer(client, agent, name="Alice Liu", email="alice.liu@gmail.com")
    gmail_b = await customer(client, agent, name="A. L.", email="aliceliu+shop@gmail.com")
    bob_a = await customer(client, agent, name="Bob Chen", company_id=acme)
    bob_b = await customer(client, agent, name="bob  chen", company_id=acme)
    kat_a = await customer(client, agent, name="Katherine Johnson", email="kj@initech.com")
    kat_b = await customer(client, agent, name="Katherine Jonson", email="kathy@initech.com")
    await customer(client, agent, name="Katherine Jones", email="kathy@gmail.com")
    await customer(client, agent, name="Someone Else", email="else@example.com")

    response = await client.get("/api/v1/customer-duplicates", headers=agent.headers)
    assert response.status_code == 200, response.text
    found = pairs(response.json())
    assert found == {
        frozenset((phone, whatsapp)): ["same phone number +8613800138000"],
        frozenset((gmail_a, gmail_b)): ["same mailbox aliceliu@gmail.com"],
        frozenset((bob_a, bob_b)): ["same name in the same company"],
        frozenset((kat_a, kat_b)): ["similar names (97%) at initech.com"],
    }
    scores = [s["score"] for s in response.json()]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)


async def test_one_customers_suggestions_and_merging_them(
    client: httpx.AsyncClient, agent: Actor
) -> None:
    phone = await customer(client, agent, name="Zhang Wei", phone="+8613800138000")
    whatsapp = await customer(
        client, agent, name="Wei", identities=[{"kind": "whatsapp", "value": "+8613800138000"}]
    )
    await customer(client, agent, name="Unrelated", phone="+8613900139000")
    response = await client.get(f"/api/v1/customers/{whatsapp}/duplicates", headers=agent.headers)
    [suggestion] = response.json()
    assert (suggestion["customer"]["id"], suggestion["other"]["id"]) == (whatsapp, phone)
    merged = await client.post(
        f"/api/v1/customers/{phone}/merge", json={"source_id": whatsapp}, headers=agent.headers
    )
    assert merged.status_code == 200
    after = await client.get(f"/api/v1/customers/{phone}/duplicates", headers=agent.headers)
    assert after.json() == []
    missing = await client.get("/api/v1/customers/99999/duplicates", headers=agent.headers)
    assert missing.status_code == 404


async def test_only_staff_who_may_merge_look(client: httpx.AsyncClient, people: Any) -> None:
    engineer = people.user("field_engineer")
    response = await client.get("/api/v1/customer-duplicates", headers=engineer.headers)
    assert response.status_code == 403
