"""Rules as data through the API: refused whole with the path of each fault, versioned
(who changed what, previous versions viewable and restorable), ordered, exported and
imported in one JSON shape."""

from __future__ import annotations

from typing import Any

from tests.conftest import Actor, People
from tests.rules.conftest import Rules

SIMPLE: dict[str, Any] = {
    "name": "VIP first",
    "trigger": ["ticket.created"],
    "conditions": {"all": [{"field": "customer.tier", "op": "is", "value": "vip"}]},
    "actions": [{"type": "set_field", "field": "priority", "value": "high"}],
}


async def test_a_wrong_rule_is_refused_whole_with_the_path_of_each_fault(rules: Rules) -> None:
    body = {
        "name": "Broken",
        "trigger": ["ticket.created", "ticket.exploded"],
        "conditions": {
            "all": [
                {"field": "ticket.subject", "op": "gte", "value": "x"},
                {"any": [{"field": "ticket.priority", "op": "is", "value": "critical"}]},
                {"field": "ticket.text", "op": "matches", "value": "(unclosed"},
                {"field": "ticket.team", "op": "is", "value": "Nobody"},
            ]
        },
        "actions": [
            {"type": "assign", "team": "Nowhere"},
            {"type": "reply", "body": "Hi {{ requester.nam }}"},
            {"type": "launch_rocket"},
            {"type": "add_tags", "tags": ["ok", "not a tag!"]},
        ],
    }
    response = await rules.client.post("/api/v1/rules", json=body, headers=rules.lead.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    locs = {tuple(e["loc"]) for e in response.json()["errors"]}
    assert locs == {
        ("body", "trigger", 1),
        ("body", "conditions", "all", 0, "op"),
        ("body", "conditions", "all", 1, "any", 0, "value"),
        ("body", "conditions", "all", 2, "value"),
        ("body", "conditions", "all", 3, "value"),
        ("body", "actions", 0, "team"),
        ("body", "actions", 1, "body"),
        ("body", "actions", 2, "type"),
        ("body", "actions", 3, "tags", 1),
    }
    listed = await rules.client.get("/api/v1/rules", headers=rules.lead.headers)
    assert listed.json()["items"] == []


async def test_conditions_and_actions_must_fit_the_rules_subject(rules: Rules) -> None:
    body = {
        "name": "Agent rule",
        "trigger": ["routing.agent.state"],
        "conditions": {"all": [{"field": "ticket.status", "op": "is", "value": "open"}]},
        "actions": [{"type": "add_tags", "tags": ["x"]}],
    }
    response = await rules.client.post("/api/v1/rules", json=body, headers=rules.lead.headers)
    errors = {tuple(e["loc"]): e["msg"] for e in response.json()["errors"]}
    assert "about the ticket" in errors[("body", "conditions", "all", 0, "field")]
    assert "not available" in errors[("body", "actions", 0, "type")]
    mixed = {**SIMPLE, "trigger": ["time", "ticket.created"]}
    response = await rules.client.post("/api/v1/rules", json=mixed, headers=rules.lead.headers)
    assert [e["loc"] for e in response.json()["errors"]] == [["body", "trigger"]]


async def test_every_save_is_a_version_and_an_old_one_comes_back(
    rules: Rules, people: People
) -> None:
    other = people.user("admin", name="Mei Chen")
    rule = await rules.rule(**SIMPLE)
    changed = {**SIMPLE, "actions": [{"type": "add_tags", "tags": ["vip"]}]}
    response = await rules.client.put(
        f"/api/v1/rules/{rule['id']}",
        json=changed,
        headers={**other.headers, "If-Match": 'W/"1"'},
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2 and response.headers["ETag"] == 'W/"2"'
    stale = await rules.client.put(
        f"/api/v1/rules/{rule['id']}", json=SIMPLE, headers={**other.headers, "If-Match": 'W/"1"'}
    )
    assert stale.status_code == 409
    versions = (
        await rules.client.get(f"/api/v1/rules/{rule['id']}/versions", headers=rules.lead.headers)
    ).json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["changed"] == ["actions"] and versions[0]["changed_by"]["name"] == "Mei Chen"
    assert versions[1]["definition"]["actions"] == SIMPLE["actions"]
    restored = await rules.client.post(
        f"/api/v1/rules/{rule['id']}/versions/1/restore", headers=rules.lead.headers
    )
    assert restored.json()["version"] == 3 and restored.json()["actions"] == SIMPLE["actions"]


async def test_rules_keep_an_order_that_can_be_changed(rules: Rules) -> None:
    ids = [(await rules.rule(**{**SIMPLE, "name": f"r{i}"}))["id"] for i in range(3)]
    first = await rules.rule(**{**SIMPLE, "name": "first", "position": 0})
    listed = await rules.client.get("/api/v1/rules", headers=rules.lead.headers)
    assert [r["id"] for r in listed.json()["items"]] == [first["id"], *ids]
    new_order = [ids[2], first["id"], ids[0], ids[1]]
    response = await rules.client.put(
        "/api/v1/rules/order", json={"ids": new_order}, headers=rules.lead.headers
    )
    assert [r["id"] for r in response.json()["items"]] == new_order
    bad = await rules.client.put(
        "/api/v1/rules/order", json={"ids": new_order[:2]}, headers=rules.lead.headers
    )
    assert bad.status_code == 422


async def test_export_and_import_share_the_api_shape(rules: Rules) -> None:
    await rules.rule(**SIMPLE)
    macro = {
        "name": "Close as spam",
        "actions": [{"type": "set_field", "field": "status", "value": "resolved"}],
    }
    response = await rules.client.post("/api/v1/macros", json=macro, headers=rules.lead.headers)
    assert response.status_code == 422  # not a status
    macro["actions"][0]["value"] = "solved"
    assert (
        await rules.client.post("/api/v1/macros", json=macro, headers=rules.lead.headers)
    ).status_code == 201
    doc = (await rules.client.get("/api/v1/rules/export", headers=rules.lead.headers)).json()
    assert doc["rules"][0] == {**SIMPLE, "description": "", "enabled": True}
    assert doc["macros"][0]["name"] == "Close as spam"

    doc["rules"].append({**SIMPLE, "name": "Second", "enabled": False})
    doc["rules"][0]["actions"] = [{"type": "add_tags", "tags": ["vip"]}]
    response = await rules.client.post("/api/v1/rules/import", json=doc, headers=rules.lead.headers)
    assert response.json() == {
        "rules_created": ["Second"],
        "rules_updated": ["VIP first"],
        "rules_deleted": [],
        "macros_created": [],
        "macros_updated": ["Close as spam"],
    }
    doc["rules"][1]["conditions"] = {"all": [{"field": "nope", "op": "is", "value": 1}]}
    response = await rules.client.post("/api/v1/rules/import", json=doc, headers=rules.lead.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == [
        "body",
        "rules",
        1,
        "conditions",
        "all",
        0,
        "field",
    ]


async def test_the_catalogue_lists_fields_actions_and_this_installs_names(
    rules: Rules, people: People
) -> None:
    people.team("Billing")
    catalogue = (
        await rules.client.get("/api/v1/rules/catalogue", headers=rules.lead.headers)
    ).json()
    assert "ticket.created" in [e["name"] for e in catalogue["events"]]
    assert "survey.rated" in [e["name"] for e in catalogue["events"]]
    assert catalogue["teams"] == ["Billing"]
    kinds = {f["name"]: f["kind"] for f in catalogue["fields"]}
    assert kinds["ticket.priority"] == "ordered" and kinds["ticket.tags"] == "set"
    assert "gte" in catalogue["ops"]["ordered"]


async def test_agents_cannot_read_or_write_rules(rules: Rules, agent: Actor) -> None:
    assert (await rules.client.get("/api/v1/rules", headers=agent.headers)).status_code == 403
    response = await rules.client.post("/api/v1/rules", json=SIMPLE, headers=agent.headers)
    assert response.status_code == 403
