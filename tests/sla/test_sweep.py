"""Warnings and breaches fire on time, to the second, and escalate as the policy says."""

from __future__ import annotations

from datetime import timedelta

from kefu.events import Event
from kefu.kit.time import FrozenClock
from tests.conftest import Actor, People
from tests.sla.conftest import MONDAY_9AM_SHANGHAI, Sla, at, named

T0 = MONDAY_9AM_SHANGHAI


async def test_warning_then_breach_fire_to_the_second_and_escalate(
    sla: Sla, people: People, clock: FrozenClock, events: list[Event]
) -> None:
    support = people.team("Support")
    escalations = people.team("Escalations")
    agent = people.user("agent", teams=[support, escalations])
    lead = people.user("supervisor", teams=[support])
    people.user("supervisor")  # in no team: not told, the team has its own supervisor
    await sla.policy(
        targets={"first_response": "1h"},
        warning="10m",
        on_warning={"notify": ["assignee"]},
        on_breach={
            "notify": ["assignee", "supervisors"],
            "priority": "raise",
            "team": "Escalations",
        },
    )
    ticket = await sla.ticket(agent, team_id=support, assignee_id=agent.id)

    clock.set(T0 + timedelta(minutes=50) - timedelta(seconds=1))
    await sla.sweep()
    assert events == []
    clock.advance(seconds=1)
    await sla.sweep()
    [warning] = named(events, "sla.warning")
    assert warning.payload["ticket_id"] == ticket["id"]
    assert warning.payload["metric"] == "first_response"
    assert at(warning.payload["due_at"]) == T0 + timedelta(hours=1)
    assert (await sla.clocks(agent, ticket["id"]))["first_response"]["status"] == "warning"
    await sla.sweep()
    assert len(named(events, "sla.warning")) == 1  # fired once

    clock.set(T0 + timedelta(hours=1) - timedelta(seconds=1))
    await sla.sweep()
    assert named(events, "sla.breached") == []
    clock.advance(seconds=1)
    await sla.sweep()
    [breach] = named(events, "sla.breached")
    assert breach.payload | {"clock_id": 0, "policy_id": 0} == {
        "ticket_id": ticket["id"],
        "clock_id": 0,
        "metric": "first_response",
        "due_at": (T0 + timedelta(hours=1)).isoformat(),
        "breached_at": (T0 + timedelta(hours=1)).isoformat(),
        "target_s": 3600,
        "policy_id": 0,
        "policy": "Default",
        "business": False,
        "late": False,
    }
    after = (await sla.client.get(f"/api/v1/tickets/{ticket['id']}", headers=agent.headers)).json()
    assert after["priority"] == "high"
    assert after["team"]["id"] == escalations
    assert after["assignee"]["id"] == agent.id  # a member of the new team keeps the ticket
    assert {c["metric"]: c["status"] for c in after["sla"]} == {"first_response": "breached"}

    history = await sla.client.get(f"/api/v1/tickets/{ticket['id']}/history", headers=agent.headers)
    kinds = [(e["kind"], e["field"]) for e in history.json()["items"]]
    assert ("sla_warning", "first_response") in kinds
    assert ("sla_breached", "first_response") in kinds
    assert ("changed", "priority") in kinds

    mine = (await sla.client.get("/api/v1/notifications", headers=agent.headers)).json()
    assert [n["kind"] for n in mine["items"]] == ["sla.breached", "sla.warning"]
    assert mine["unread"] == 2
    leads = (await sla.client.get("/api/v1/notifications", headers=lead.headers)).json()
    assert [n["kind"] for n in leads["items"]] == ["sla.breached"]
    assert leads["items"][0]["ticket_id"] == ticket["id"]
    assert leads["items"][0]["data"]["metric"] == "first_response"


async def test_breach_is_recorded_at_its_due_time_even_when_the_sweep_is_late(
    sla: Sla, agent: Actor, clock: FrozenClock, events: list[Event]
) -> None:
    await sla.policy(targets={"first_response": "1h"}, warning="50%")
    ticket = await sla.ticket(agent)
    clock.advance(hours=5)
    await sla.sweep()
    assert [e.name for e in events] == ["sla.breached"]  # no stale warning first
    clocks = await sla.clocks(agent, ticket["id"])
    assert at(clocks["first_response"]["breached_at"]) == T0 + timedelta(hours=1)


async def test_a_reply_after_the_due_time_before_any_sweep_is_a_late_breach(
    sla: Sla, agent: Actor, clock: FrozenClock, events: list[Event]
) -> None:
    await sla.policy(targets={"first_response": "1h"})
    ticket = await sla.ticket(agent)
    clock.advance(minutes=61)
    await sla.message(agent, ticket["id"], body="Sorry for the wait")
    [late] = named(events, "sla.breached")
    assert late.payload["late"] is True
    clocks = await sla.clocks(agent, ticket["id"])
    assert clocks["first_response"]["status"] == "breached"
    assert at(clocks["first_response"]["met_at"]) == T0 + timedelta(minutes=61)
    await sla.sweep()
    assert len(named(events, "sla.breached")) == 1


async def test_paused_clocks_never_fire(
    sla: Sla, agent: Actor, clock: FrozenClock, events: list[Event]
) -> None:
    await sla.policy(targets={"resolution": "1h"}, warning="10m")
    ticket = await sla.ticket(agent)
    await sla.patch(agent, ticket["id"], status="pending")
    clock.advance(days=3)
    await sla.sweep()
    assert events == []


async def test_escalation_that_cannot_apply_is_written_on_the_history(
    sla: Sla, agent: Actor, people: People, clock: FrozenClock
) -> None:
    team = people.team("Tier 2")
    await sla.policy(targets={"first_response": "1h"}, on_breach={"team": "Tier 2"})
    ticket = await sla.ticket(agent)
    await sla.client.delete(f"/api/v1/teams/{team}", headers=sla.lead.headers)
    clock.advance(hours=2)
    await sla.sweep()
    history = await sla.client.get(f"/api/v1/tickets/{ticket['id']}/history", headers=agent.headers)
    kinds = [e["kind"] for e in history.json()["items"]]
    assert "sla_breached" in kinds
    assert "sla_escalation_failed" in kinds


async def test_warnings_and_breaches_in_batches(
    sla: Sla, agent: Actor, clock: FrozenClock, events: list[Event]
) -> None:
    await sla.policy(targets={"first_response": "1h"})
    for _ in range(7):
        await sla.ticket(agent)
    from kefu.sla import escalation

    clock.advance(hours=2)
    first = sla.runtime.db.run_write(escalation.sweep, 5)
    assert (first.breached, first.more) == (5, True)
    second = sla.runtime.db.run_write(escalation.sweep, 5)
    assert (second.breached, second.more) == (2, False)


async def test_a_breach_stands_when_the_ticket_moves_to_a_longer_target(
    sla: Sla, agent: Actor, clock: FrozenClock
) -> None:
    await sla.policy(
        name="Urgent", match={"priority": ["urgent"]}, targets={"first_response": "30m"}
    )
    await sla.policy(name="Default", targets={"first_response": "4h"})
    ticket = await sla.ticket(agent, priority="urgent")
    clock.advance(hours=1)
    await sla.sweep()
    await sla.patch(agent, ticket["id"], priority="normal")
    first = (await sla.clocks(agent, ticket["id"]))["first_response"]
    assert first["status"] == "breached"
    assert first["policy"] == "Default"
    assert (first["target_s"], at(first["due_at"])) == (1800, T0 + timedelta(minutes=30))
    clock.advance(minutes=10)
    await sla.message(agent, ticket["id"], body="Sorry!")
    first = (await sla.clocks(agent, ticket["id"]))["first_response"]
    assert first["status"] == "breached"
    assert first["remaining_s"] == 1800 - 70 * 60  # it ended 40 minutes late
