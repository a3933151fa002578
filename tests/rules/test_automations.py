"""Time automations in business time (pending 3 business days: remind; 7: solve), each once
per stretch in a status; agent-state rules; assignment through the router's queues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kefu.kit.time import FrozenClock
from tests.conftest import Actor, People
from tests.rules.conftest import Rules, fired

PENDING = {"field": "ticket.status", "op": "is", "value": "pending"}


def _since_status(days: int) -> dict[str, object]:
    return {
        "field": "ticket.since_status",
        "op": "gte",
        "value": days,
        "unit": "business_days",
        "calendar": "Shanghai office",
    }


async def test_pending_tickets_are_reminded_after_3_business_days_and_solved_after_7(
    rules: Rules, clock: FrozenClock
) -> None:
    await rules.calendar()
    await rules.rule(
        name="Remind",
        trigger=["time"],
        conditions={"all": [PENDING, _since_status(3)]},
        actions=[{"type": "reply", "body": "Do you still need help with #{{ ticket.id }}?"}],
    )
    await rules.rule(
        name="Close quiet ones",
        trigger=["time"],
        conditions={"all": [PENDING, _since_status(7)]},
        actions=[{"type": "set_field", "field": "status", "value": "solved"}],
    )
    ticket = await rules.ticket()
    other = await rules.ticket(subject="still open")
    clock.advance(hours=1)  # Monday 10:00 in Shanghai
    await rules.patch(ticket["id"], status="pending")

    async def at(when: datetime) -> tuple[str, int]:
        clock.set(when)
        await rules.automations()
        await rules.run()
        t = await rules.get(ticket["id"])
        replies = [m for m in await rules.messages(ticket["id"]) if m["author_type"] == "system"]
        return t["status"], len(replies)

    thursday_10 = datetime(2026, 1, 8, 2, 0, tzinfo=UTC)
    assert await at(thursday_10 - timedelta(minutes=1)) == ("pending", 0)
    assert await at(thursday_10) == ("pending", 1)
    assert await at(thursday_10 + timedelta(hours=3)) == ("pending", 1)  # once per stretch
    next_wednesday_10 = datetime(2026, 1, 14, 2, 0, tzinfo=UTC)  # the weekend does not count
    assert await at(next_wednesday_10 - timedelta(hours=1)) == ("pending", 1)
    assert await at(next_wednesday_10) == ("solved", 1)
    history = await rules.history(ticket["id"])
    assert len(fired(history, "Remind")) == 1 and len(fired(history, "Close quiet ones")) == 1
    assert (await rules.get(other["id"]))["status"] == "new"


async def test_a_reminded_ticket_is_reminded_again_after_it_went_pending_again(
    rules: Rules, clock: FrozenClock
) -> None:
    await rules.rule(
        name="Remind in calendar time",
        trigger=["time"],
        conditions={
            "all": [
                PENDING,
                {"field": "ticket.since_status", "op": "gt", "value": 2, "unit": "days"},
            ]
        },
        actions=[{"type": "add_note", "body": "reminded"}],
    )
    ticket = await rules.ticket()
    await rules.patch(ticket["id"], status="pending")
    clock.advance(days=3)
    await rules.automations()
    clock.advance(minutes=5)
    await rules.patch(ticket["id"], status="open")
    await rules.patch(ticket["id"], status="pending")
    await rules.automations()
    clock.advance(days=3)
    await rules.automations()
    assert len(fired(await rules.history(ticket["id"]), "Remind in calendar time")) == 2


async def test_an_agent_going_on_break_notifies_the_supervisors(
    rules: Rules, people: People, agent: Actor
) -> None:
    await rules.rule(
        name="Breaks",
        trigger=["routing.agent.state"],
        conditions={"all": [{"field": "agent.state", "op": "is", "value": "break"}]},
        actions=[{"type": "notify", "to": ["supervisors"], "message": "{{ agent.name }} is away"}],
    )
    response = await rules.client.put(
        "/api/v1/agents/me/state", json={"state": "available"}, headers=agent.headers
    )
    assert response.status_code == 200, response.text
    reasons = await rules.client.get("/api/v1/routing/break-reasons", headers=agent.headers)
    code = reasons.json()[0]["code"]
    response = await rules.client.put(
        "/api/v1/agents/me/state", json={"state": "break", "reason": code}, headers=agent.headers
    )
    assert response.status_code == 200, response.text
    await rules.run()
    notes = await rules.client.get("/api/v1/notifications", headers=rules.lead.headers)
    items = notes.json()["items"]
    assert [n["kind"] for n in items] == ["rule"]
    assert items[0]["data"]["message"].endswith("is away")


async def test_a_rule_assigns_to_a_team_and_queues_the_ticket_with_the_router(
    rules: Rules, people: People, admin: Actor
) -> None:
    team = people.team("Billing")
    queue = await rules.client.post(
        "/api/v1/routing/queues",
        json={"name": "Billing line", "team_id": team},
        headers=admin.headers,
    )
    assert queue.status_code == 201, queue.text
    await rules.rule(
        name="Route billing",
        trigger=["ticket.created"],
        conditions={"all": [{"field": "ticket.subject", "op": "contains", "value": "invoice"}]},
        actions=[{"type": "assign", "team": "billing", "queue": "Billing line"}],
    )
    ticket = await rules.ticket(subject="Invoice is wrong")
    await rules.run()
    assert (await rules.get(ticket["id"]))["team"]["name"] == "Billing"
    firings = await rules.client.get("/api/v1/rules", headers=rules.lead.headers)
    rule_id = firings.json()["items"][0]["id"]
    log = await rules.client.get(f"/api/v1/rules/{rule_id}/firings", headers=rules.lead.headers)
    results = log.json()["items"][0]["results"]
    assert [r["field"] for r in results] == ["team", "queue"] and all(r["ok"] for r in results)
