"""Macros: a preview that changes nothing, then one click that applies every action as the
agent (history says who), all or nothing; dry runs of rules over past days."""

from __future__ import annotations

from typing import Any

from kefu.kit.time import FrozenClock
from tests.conftest import Actor, People
from tests.rules.conftest import Rules

MACRO: dict[str, Any] = {
    "name": "Refund done",
    "actions": [
        {"type": "add_tags", "tags": ["refunded"]},
        {"type": "set_field", "field": "status", "value": "pending"},
        {
            "type": "reply",
            "body": "Dear {{ requester.name }}, your refund is on its way. {{ agent.first_name }}",
        },
    ],
}


async def _macro(rules: Rules, body: dict[str, Any]) -> dict[str, Any]:
    response = await rules.client.post("/api/v1/macros", json=body, headers=rules.lead.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_preview_then_apply_a_macro_as_the_agent(rules: Rules, people: People) -> None:
    agent = people.user("agent", name="Bo Wang")
    macro = await _macro(rules, MACRO)
    ticket = await rules.ticket(agent)
    url = f"/api/v1/tickets/{ticket['id']}/macros/{macro['id']}"

    preview = await rules.client.get(url + "/preview", headers=agent.headers)
    assert preview.status_code == 200, preview.text
    changes = preview.json()["changes"]
    assert [c["action"] for c in changes] == ["add_tags", "set_field", "reply"]
    assert changes[1] == {
        "action": "set_field",
        "ok": True,
        "field": "status",
        "old": "new",
        "new": "pending",
        "detail": None,
    }
    assert changes[2]["detail"] == "Dear Alice Liu, your refund is on its way. Bo"
    assert (await rules.get(ticket["id"]))["status"] == "new"  # the preview changed nothing

    applied = await rules.client.post(url, headers=agent.headers)
    assert applied.status_code == 200, applied.text
    after = await rules.get(ticket["id"])
    assert after["status"] == "pending" and after["tags"] == ["refunded"]
    reply = (await rules.messages(ticket["id"]))[-1]
    assert reply["author"]["name"] == "Bo Wang" and reply["author_type"] == "agent"
    history = await rules.history(ticket["id"])
    applied_rows = [e for e in history if e["kind"] == "macro_applied"]
    assert (
        applied_rows[0]["actor_name"] == "Bo Wang" and applied_rows[0]["new_value"] == "Refund done"
    )


async def test_a_macro_applies_all_or_nothing(rules: Rules, agent: Actor, runtime: Any) -> None:
    from kefu.fields import service as fields
    from kefu.fields.schemas import FieldDefinitionCreate

    runtime.db.run_write(
        fields.create_definition,
        FieldDefinitionCreate(key="order_no", label="Order", type="text", required=True),  # type: ignore[arg-type]
    )
    macro = await _macro(
        rules,
        {
            "name": "Tag and solve",
            "actions": [
                {"type": "add_tags", "tags": ["x"]},
                {"type": "set_field", "field": "status", "value": "solved"},
            ],
        },
    )
    ticket = await rules.ticket(agent)
    response = await rules.client.post(
        f"/api/v1/tickets/{ticket['id']}/macros/{macro['id']}", headers=agent.headers
    )
    assert response.status_code == 422
    assert (await rules.get(ticket["id"]))["tags"] == []


async def test_macros_only_hold_ticket_actions_and_agents_cannot_define_them(
    rules: Rules, agent: Actor
) -> None:
    response = await rules.client.post(
        "/api/v1/macros",
        json={"name": "x", "actions": [{"type": "webhook", "webhook": "a"}]},
        headers=rules.lead.headers,
    )
    assert response.json()["errors"][0]["loc"] == ["body", "actions", 0, "type"]
    response = await rules.client.post("/api/v1/macros", json=MACRO, headers=agent.headers)
    assert response.status_code == 403
    listed = await rules.client.get("/api/v1/macros", headers=agent.headers)
    assert listed.status_code == 200


async def test_a_dry_run_shows_what_a_rule_would_have_done_and_changes_nothing(
    rules: Rules, clock: FrozenClock
) -> None:
    old = await rules.ticket(subject="Old refund")
    clock.advance(days=10)
    recent = await rules.ticket(subject="Refund for the blue lamp")
    other = await rules.ticket(subject="Where is my parcel")
    await rules.patch(other["id"], priority="high")
    rule = await rules.rule(
        name="Refund replies",
        enabled=False,
        trigger=["ticket.created", "ticket.updated"],
        conditions={
            "any": [
                {"field": "ticket.subject", "op": "contains", "value": "refund"},
                {"field": "update.changed", "op": "includes", "value": "priority"},
            ]
        },
        actions=[
            {"type": "add_tags", "tags": ["refund"]},
            {"type": "reply", "body": "Hi {{ requester.first_name }}"},
        ],
    )
    response = await rules.client.post(
        f"/api/v1/rules/{rule['id']}/dry-run?days=7", headers=rules.lead.headers
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["matched"] == 2 and result["truncated"] is False
    items = {i["ticket_id"]: i for i in result["items"]}
    assert set(items) == {recent["id"], other["id"]}
    assert items[recent["id"]]["changes"] == [
        {
            "action": "add_tags",
            "ok": True,
            "field": "tags",
            "old": [],
            "new": ["refund"],
            "detail": None,
        },
        {
            "action": "reply",
            "ok": True,
            "field": None,
            "old": None,
            "new": None,
            "detail": "Hi Alice",
        },
    ]
    assert (await rules.get(recent["id"]))["tags"] == []
    assert (await rules.messages(recent["id"]))[-1]["author_type"] == "customer"
    wide = await rules.client.post(
        f"/api/v1/rules/{rule['id']}/dry-run?days=30", headers=rules.lead.headers
    )
    assert wide.json()["matched"] == 3 and old["id"] in [
        i["ticket_id"] for i in wide.json()["items"]
    ]
    bad = await rules.client.post(
        f"/api/v1/rules/{rule['id']}/dry-run?days=0", headers=rules.lead.headers
    )
    assert bad.status_code == 422
