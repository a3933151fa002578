"""Custom field definitions: typed, keyed per entity, options only where they belong."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Actor, People, define_field

API = "/api/v1/fields"


async def test_definitions_crud(client: httpx.AsyncClient, admin: Actor, people: People) -> None:
    lead = people.user("supervisor")
    made = await client.post(
        API,
        json={
            "key": "product_model",
            "label": "Product model",
            "translations": {"zh_CN": "产品型号"},
            "type": "select",
            "options": [" X-100 ", "X-200"],
            "required": True,
            "position": 2,
        },
        headers=lead.headers,
    )
    assert made.status_code == 201, made.text
    field = made.json()
    assert (field["entity"], field["options"], field["required"]) == (
        "ticket",
        ["X-100", "X-200"],
        True,
    )
    await define_field(client, admin, "plan", "text", entity="customer")
    await define_field(client, admin, "first", "checkbox", position=1)
    tickets = await client.get(API, params={"entity": "ticket"}, headers=lead.headers)
    assert [f["key"] for f in tickets.json()] == ["first", "product_model"]
    everything = await client.get(API, headers=lead.headers)
    assert {f["key"] for f in everything.json()} == {"first", "product_model", "plan"}
    changed = await client.patch(
        f"{API}/{field['id']}",
        json={"label": "Model", "options": ["X-100", "X-200", "X-300"], "active": False},
        headers=lead.headers,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["label"], changed.json()["active"]) == ("Model", False)
    assert changed.json()["options"] == ["X-100", "X-200", "X-300"]
    got = await client.get(f"{API}/{field['id']}", headers=lead.headers)
    assert got.json()["label"] == "Model"
    assert (await client.delete(f"{API}/{field['id']}", headers=lead.headers)).status_code == 204
    assert (await client.get(f"{API}/{field['id']}", headers=lead.headers)).status_code == 404
    assert (await client.delete(f"{API}/{field['id']}", headers=lead.headers)).status_code == 404


async def test_a_key_is_unique_per_entity(client: httpx.AsyncClient, admin: Actor) -> None:
    await define_field(client, admin, "region", "text")
    again = await client.post(
        API, json={"key": "region", "label": "R", "type": "text"}, headers=admin.headers
    )
    assert again.status_code == 409
    await define_field(client, admin, "region", "text", entity="customer")


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"key": "Bad Key", "label": "x", "type": "text"}, ["body", "key"]),
        ({"key": "1st", "label": "x", "type": "text"}, ["body", "key"]),
        ({"key": "ok", "label": "", "type": "text"}, ["body", "label"]),
        ({"key": "ok", "label": "x", "type": "colour"}, ["body", "type"]),
        ({"key": "ok", "label": "x", "type": "select"}, ["body"]),
        ({"key": "ok", "label": "x", "type": "text", "options": ["a"]}, ["body"]),
        ({"key": "ok", "label": "x", "type": "select", "options": ["a", "a"]}, ["body", "options"]),
        ({"key": "ok", "label": "x", "type": "select", "options": [" "]}, ["body", "options"]),
        ({"key": "ok", "label": "x", "type": "text", "entity": "order"}, ["body", "entity"]),
    ],
)
async def test_bad_definitions_are_422(
    client: httpx.AsyncClient, admin: Actor, body: dict[str, Any], loc: list[Any]
) -> None:
    response = await client.post(API, json=body, headers=admin.headers)
    assert response.status_code == 422, response.text
    assert loc in [e["loc"] for e in response.json()["errors"]]


async def test_options_fit_the_type_on_update(client: httpx.AsyncClient, admin: Actor) -> None:
    select = await define_field(client, admin, "size", "select", options=["s", "m"])
    text = await define_field(client, admin, "note", "text")
    for field, options in ((select, []), (text, ["a"])):
        response = await client.patch(
            f"{API}/{field['id']}", json={"options": options}, headers=admin.headers
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "options"]
    for body in ({"type": "number"}, {"key": "renamed"}, {"entity": "customer"}):
        response = await client.patch(f"{API}/{select['id']}", json=body, headers=admin.headers)
        assert response.status_code == 422, body
