"""Event rules end to end: a change commits, its event waits in the queue, the worker runs
the rules on it, every firing is on the ticket's history (as the rule), actions that fail
are recorded without undoing the others, and chains of rules are bounded."""

from __future__ import annotations

from typing import Any

from kefu.config import Settings
from kefu.kit.time import FrozenClock
from kefu.main import create_app
from kefu.rules import catalogue
from kefu.runtime import Runtime
from tests.conftest import Actor
from tests.rules.conftest import Rules, fired

REFUNDS = {
    "name": "Refunds to billing",
    "trigger": ["ticket.created"],
    "conditions": {
        "all": [
            {"field": "ticket.text", "op": "contains", "value": ["refund", "退款"]},
            {
                "any": [
                    {"field": "customer.tier", "op": "is", "value": "vip"},
                    {"field": "ticket.priority", "op": "gte", "value": "high"},
                ]
            },
        ]
    },
    "actions": [
        {"type": "add_tags", "tags": ["refund"]},
        {"type": "set_field", "field": "priority", "value": "urgent"},
        {"type": "reply", "body": "Hello {{ requester.first_name }}, ticket #{{ ticket.id }}."},
    ],
}


async def test_a_matching_ticket_fires_the_rule_and_its_history_says_so(rules: Rules) -> None:
    await rules.rule(**REFUNDS)
    hit = await rules.ticket(subject="退款申请", body="订单 1042 请退款", priority="high")
    miss = await rules.ticket(subject="Refund please", priority="low")
    await rules.run()

    ticket = await rules.get(hit["id"])
    assert ticket["tags"] == ["refund"] and ticket["priority"] == "urgent"
    history = await rules.history(hit["id"])
    assert len(fired(history, "Refunds to billing")) == 1
    by_rule = [e for e in history if e["actor_type"] == "rule"]
    assert {e["field"] for e in by_rule if e["kind"] == "changed"} == {"tags", "priority"}
    reply = (await rules.messages(hit["id"]))[-1]
    assert reply["author_type"] == "system"
    assert reply["body_text"] == f"Hello Alice, ticket #{hit['id']}."

    untouched = await rules.get(miss["id"])
    assert untouched["tags"] == [] and untouched["priority"] == "low"
    assert fired(await rules.history(miss["id"]), "Refunds to billing") == []


async def test_the_event_waits_in_the_queue_until_a_worker_runs_it(
    rules: Rules, settings: Settings, clock: FrozenClock
) -> None:
    """The ticket and its event commit together; a process that dies before running the
    rules loses nothing: the next one (a fresh runtime on the same database) runs them."""
    await rules.rule(**{**REFUNDS, "conditions": {"all": []}})
    ticket = await rules.ticket(subject="anything")

    fresh = create_app(settings, clock).state.runtime
    assert isinstance(fresh, Runtime)
    fresh.db.start()
    try:
        from kefu.rules import tasks

        await tasks.run_queued(fresh)
    finally:
        fresh.db.close()
    assert (await rules.get(ticket["id"]))["tags"] == ["refund"]
    await rules.run()  # nothing left to run: the rule fired once
    assert len(fired(await rules.history(ticket["id"]), "Refunds to billing")) == 1


async def test_a_rule_does_not_fire_again_on_its_own_change(rules: Rules) -> None:
    await rules.rule(
        name="Tag every update",
        trigger=["ticket.updated"],
        actions=[
            {"type": "add_tags", "tags": ["touched"]},
            {"type": "set_field", "field": "category", "value": "x"},
        ],
    )
    ticket = await rules.ticket()
    await rules.patch(ticket["id"], subject="Changed by a person")
    for _ in range(3):
        await rules.run()
    assert len(fired(await rules.history(ticket["id"]), "Tag every update")) == 1


async def test_a_chain_of_rules_stops_at_the_depth_limit(rules: Rules) -> None:
    """Rule k adds tag k when the ticket has tag k-1, and comes before rule k-1, so each
    firing's change is picked up only by the event it raises: a chain of events."""
    count = catalogue.MAX_DEPTH + 3
    for k in range(1, count + 1):
        await rules.rule(
            name=f"step {k}",
            position=0,
            trigger=["ticket.updated", "ticket.created"],
            conditions={"all": [{"field": "ticket.tags", "op": "includes", "value": f"t{k - 1}"}]},
            actions=[{"type": "add_tags", "tags": [f"t{k}"]}],
        )
    ticket = await rules.ticket(tags=["t0"])
    for _ in range(count + 2):
        await rules.run()
    tags = (await rules.get(ticket["id"]))["tags"]
    assert tags == sorted(f"t{k}" for k in range(catalogue.MAX_DEPTH + 1))
    history = await rules.history(ticket["id"])
    stopped = [e for e in history if e["kind"] == "rule_chain_stopped"]
    assert len(stopped) == 1 and f"step {catalogue.MAX_DEPTH + 1}" in stopped[0]["new_value"]


async def test_a_failing_action_is_recorded_and_the_others_stand(
    rules: Rules, runtime: Runtime
) -> None:
    await rules.rule(
        name="Solve and tag",
        trigger=["ticket.created"],
        actions=[
            {"type": "add_tags", "tags": ["seen"]},
            {"type": "set_field", "field": "status", "value": "solved"},
            {"type": "add_note", "body": "{{ ticket.subject | upper }}"},
        ],
    )
    # A required field makes "solved" refuse: the tickets service says why.
    from kefu.fields import service as fields
    from kefu.fields.schemas import FieldDefinitionCreate

    runtime.db.run_write(
        fields.create_definition,
        FieldDefinitionCreate(key="order_no", label="Order", type="text", required=True),  # type: ignore[arg-type]
    )
    ticket = await rules.ticket(subject="broken thing")
    await rules.run()
    after = await rules.get(ticket["id"])
    assert after["tags"] == ["seen"] and after["status"] == "new"
    history = await rules.history(ticket["id"])
    failed = [e for e in history if e["kind"] == "rule_failed"]
    assert len(failed) == 1 and failed[0]["field"] == "set_field"
    assert "order_no" in failed[0]["new_value"]
    notes = [m for m in await rules.messages(ticket["id"]) if m["visibility"] == "note"]
    assert notes[0]["body_text"] == "BROKEN THING"
    firings = await rules.client.get(
        f"/api/v1/rules/{(await _rule_id(rules, 'Solve and tag'))}/firings",
        headers=rules.lead.headers,
    )
    item = firings.json()["items"][0]
    assert item["status"] == "partial" and [r["ok"] for r in item["results"]] == [True, False, True]


async def _rule_id(rules: Rules, name: str) -> int:
    listed = await rules.client.get("/api/v1/rules", headers=rules.lead.headers)
    return next(r["id"] for r in listed.json()["items"] if r["name"] == name)


async def test_message_and_update_triggers_see_the_message_and_the_changed_fields(
    rules: Rules, agent: Actor
) -> None:
    await rules.rule(
        name="Angry customer",
        trigger=["message.created"],
        conditions={
            "all": [
                {"field": "message.author_type", "op": "is", "value": "customer"},
                {"field": "message.body", "op": "matches", "value": r"(terrible|投诉)"},
            ]
        },
        actions=[{"type": "add_tags", "tags": ["complaint"]}],
    )
    await rules.rule(
        name="Solved notice",
        trigger=["ticket.updated"],
        conditions={
            "all": [
                {"field": "update.changed", "op": "includes", "value": "status"},
                {"field": "ticket.status", "op": "is", "value": "solved"},
            ]
        },
        actions=[{"type": "send_survey"}],
    )
    ticket = await rules.ticket(body="hello")
    response = await rules.client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "这服务太差了，我要投诉", "author_type": "customer"},
        headers=rules.lead.headers,
    )
    assert response.status_code == 201, response.text
    await rules.patch(ticket["id"], status="solved")
    seen: list[Any] = []
    rules.runtime.bus.subscribe("survey.requested", seen.append)
    await rules.run()
    assert (await rules.get(ticket["id"]))["tags"] == ["complaint"]
    assert [e.payload["ticket_id"] for e in seen] == [ticket["id"]]


async def test_keywords_classify_new_tickets_in_chinese_and_english(rules: Rules) -> None:
    await rules.rule(
        name="Classify",
        trigger=["ticket.created"],
        actions=[
            {
                "type": "classify",
                "categories": [
                    {
                        "category": "billing",
                        "keywords": ["invoice", "发票", "退款"],
                        "tags": ["money"],
                    },
                    {"category": "delivery", "keywords": ["parcel", "快递", "物流"]},
                ],
            }
        ],
    )
    chinese = await rules.ticket(subject="快递三天没到", body="物流信息一直没有更新")
    english = await rules.ticket(subject="Wrong invoice", body="The invoice shows the old address")
    neither = await rules.ticket(subject="Hello", body="Just saying hi")
    await rules.run()
    assert (await rules.get(chinese["id"]))["category"] == "delivery"
    after = await rules.get(english["id"])
    assert after["category"] == "billing" and after["tags"] == ["money"]
    assert (await rules.get(neither["id"]))["category"] is None


async def test_escalation_raises_priority_moves_and_notifies(
    rules: Rules, people: Any, agent: Actor
) -> None:
    people.team("Escalations")
    await rules.rule(
        name="Escalate complaints",
        trigger=["ticket.created"],
        conditions={"all": [{"field": "ticket.text", "op": "contains", "value": "complaint"}]},
        actions=[
            {"type": "escalate", "priority": "raise", "notify": ["assignee"], "team": "Escalations"}
        ],
    )
    ticket = await rules.ticket(subject="A complaint", priority="high", assignee_id=agent.id)
    await rules.run()
    after = await rules.get(ticket["id"])
    assert after["priority"] == "urgent" and after["team"]["name"] == "Escalations"
    notes = await rules.client.get("/api/v1/notifications", headers=agent.headers)
    assert [n["data"]["rule"] for n in notes.json()["items"]] == ["Escalate complaints"]


async def test_a_survey_rating_triggers_rules(rules: Rules) -> None:
    """The event as the surveys raise it (tests/surveys rate through the page)."""
    await rules.rule(
        name="Unhappy",
        trigger=["survey.rated"],
        conditions={"all": [{"field": "survey.rating", "op": "lte", "value": 2}]},
        actions=[{"type": "add_tags", "tags": ["unhappy"]}],
    )
    low, high = await rules.ticket(), await rules.ticket()

    def rate(ctx: Any, ticket_id: int, rating: int) -> None:
        ctx.emit("survey.rated", ticket_id=ticket_id, rating=rating, comment="")

    await rules.runtime.db.write(rate, low["id"], 1)
    await rules.runtime.db.write(rate, high["id"], 5)
    await rules.run()
    assert (await rules.get(low["id"]))["tags"] == ["unhappy"]
    assert (await rules.get(high["id"]))["tags"] == []
