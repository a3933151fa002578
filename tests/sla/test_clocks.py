"""A ticket's SLA clocks through the real API: started, met, paused, re-targeted, reopened."""

from __future__ import annotations

from datetime import timedelta

from kefu.kit.time import FrozenClock
from tests.conftest import Actor
from tests.sla.conftest import MONDAY_9AM_SHANGHAI, Sla, at

T0 = MONDAY_9AM_SHANGHAI


async def test_first_matching_policy_starts_clocks_in_the_same_transaction(
    sla: Sla, agent: Actor
) -> None:
    await sla.policy(
        name="Urgent",
        match={"priority": ["urgent"]},
        targets={"first_response": "30m", "resolution": "4h"},
    )
    await sla.policy(name="Default", targets={"first_response": "4h"})
    urgent = await sla.ticket(agent, priority="urgent")
    assert {c["metric"]: c["status"] for c in urgent["sla"]} == {
        "first_response": "active",
        "resolution": "active",
    }
    clocks = await sla.clocks(agent, urgent["id"])
    assert at(clocks["first_response"]["due_at"]) == T0 + timedelta(minutes=30)
    assert clocks["first_response"]["target_s"] == 1800
    assert at(clocks["resolution"]["due_at"]) == T0 + timedelta(hours=4)
    assert clocks["resolution"]["policy"] == "Urgent"
    normal = await sla.clocks(agent, (await sla.ticket(agent))["id"])
    assert list(normal) == ["first_response"]
    assert normal["first_response"]["policy"] == "Default"


async def test_no_policy_no_clocks(sla: Sla, agent: Actor) -> None:
    await sla.policy(name="VIP only", match={"tier": ["vip"]}, targets={"first_response": "1h"})
    ticket = await sla.ticket(agent)
    assert ticket["sla"] == []
    assert await sla.clocks(agent, ticket["id"]) == {}


async def test_replies_meet_response_clocks_and_customer_messages_start_next_response(
    sla: Sla, agent: Actor, clock: FrozenClock
) -> None:
    await sla.policy()
    ticket = await sla.ticket(agent)
    clock.advance(minutes=10)
    await sla.message(agent, ticket["id"], body="We are on it")
    clocks = await sla.clocks(agent, ticket["id"])
    assert clocks["first_response"]["status"] == "met"
    assert at(clocks["first_response"]["met_at"]) == T0 + timedelta(minutes=10)
    assert "next_response" not in clocks
    await sla.message(agent, ticket["id"], body="internal", visibility="note")
    clock.advance(minutes=5)
    await sla.message(agent, ticket["id"], body="Still broken", author_type="customer")
    clocks = await sla.clocks(agent, ticket["id"])
    assert clocks["next_response"]["status"] == "active"
    assert at(clocks["next_response"]["due_at"]) == T0 + timedelta(minutes=15, hours=2)
    clock.advance(minutes=20)
    await sla.message(agent, ticket["id"], body="Fixed now")
    clocks = await sla.clocks(agent, ticket["id"])
    assert clocks["next_response"]["status"] == "met"
    assert clocks["resolution"]["status"] == "active"


async def test_pending_pauses_and_reopening_resumes_with_the_time_left(
    sla: Sla, agent: Actor, clock: FrozenClock
) -> None:
    await sla.policy(targets={"resolution": "8h"})
    ticket = await sla.ticket(agent)
    clock.advance(hours=1)
    await sla.patch(agent, ticket["id"], status="pending")
    paused = (await sla.clocks(agent, ticket["id"]))["resolution"]
    assert paused["status"] == "paused"
    assert paused["due_at"] is None
    assert paused["remaining_s"] == 7 * 3600
    clock.advance(hours=30)
    await sla.message(agent, ticket["id"], body="Here is the photo", author_type="customer")
    resumed = (await sla.clocks(agent, ticket["id"]))["resolution"]
    assert resumed["status"] == "active"
    assert at(resumed["due_at"]) == T0 + timedelta(hours=31 + 7)


async def test_on_hold_pauses_only_when_the_policy_says_so(
    sla: Sla, agent: Actor, clock: FrozenClock
) -> None:
    await sla.policy(targets={"resolution": "8h"}, pause_on=["pending"])
    ticket = await sla.ticket(agent)
    await sla.patch(agent, ticket["id"], status="on_hold")
    assert (await sla.clocks(agent, ticket["id"]))["resolution"]["status"] == "active"


async def test_priority_change_reapplies_the_policy_counting_time_already_used(
    sla: Sla, agent: Actor, clock: FrozenClock
) -> None:
    await sla.policy(
        name="Urgent", match={"priority": ["urgent"]}, targets={"first_response": "30m"}
    )
    await sla.policy(name="Default", targets={"first_response": "4h", "resolution": "1d"})
    ticket = await sla.ticket(agent)
    clock.advance(minutes=20)
    await sla.patch(agent, ticket["id"], priority="urgent")
    clocks = await sla.clocks(agent, ticket["id"])
    assert clocks["first_response"]["policy"] == "Urgent"
    assert at(clocks["first_response"]["due_at"]) == T0 + timedelta(minutes=30)
    assert "resolution" not in clocks  # the urgent policy has no resolution target


async def test_solving_stops_and_reopening_continues_the_resolution_clock(
    sla: Sla, agent: Actor, clock: FrozenClock
) -> None:
    await sla.policy(targets={"first_response": "1h", "next_response": "1h", "resolution": "8h"})
    ticket = await sla.ticket(agent)
    clock.advance(hours=2)
    await sla.message(agent, ticket["id"], body="Done", status="solved")
    clocks = await sla.clocks(agent, ticket["id"])
    assert clocks["resolution"]["status"] == "met"
    assert clocks["first_response"]["status"] == "breached"  # replied after 2h of 1h
    assert at(clocks["first_response"]["breached_at"]) == T0 + timedelta(hours=1)
    clock.advance(hours=10)
    await sla.message(agent, ticket["id"], body="Not done!", author_type="customer")
    clocks = await sla.clocks(agent, ticket["id"])
    assert clocks["resolution"]["status"] == "active"
    assert at(clocks["resolution"]["due_at"]) == T0 + timedelta(hours=12 + 6)
    assert clocks["next_response"]["status"] == "active"


async def test_business_hours_policy_counts_only_working_time(
    sla: Sla, agent: Actor, clock: FrozenClock
) -> None:
    await sla.calendar()
    await sla.policy(calendar="Shanghai office", targets={"first_response": "2h"})
    clock.set(T0 + timedelta(days=4, hours=8))  # Friday 17:00 in Shanghai
    ticket = await sla.ticket(agent)
    first = (await sla.clocks(agent, ticket["id"]))["first_response"]
    assert first["business"] is True
    assert at(first["due_at"]) == T0 + timedelta(days=7, hours=1)  # Monday 10:00


async def test_closed_by_merge_stops_the_clocks(sla: Sla, agent: Actor) -> None:
    await sla.policy()
    first = await sla.ticket(agent)
    second = await sla.ticket(agent, subject="Same refund again")
    merged = await sla.client.post(
        f"/api/v1/tickets/{first['id']}/merge",
        json={"source_ids": [second["id"]]},
        headers=agent.headers,
    )
    assert merged.status_code == 200, merged.text
    statuses = {c["status"] for c in (await sla.clocks(agent, second["id"])).values()}
    assert statuses == {"met"}


async def test_a_split_off_ticket_gets_its_own_clocks(
    sla: Sla, agent: Actor, clock: FrozenClock
) -> None:
    await sla.policy(targets={"first_response": "1h"})
    ticket = await sla.ticket(agent)
    clock.advance(minutes=30)
    await sla.message(agent, ticket["id"], body="Another problem", author_type="customer")
    messages = await sla.client.get(
        f"/api/v1/tickets/{ticket['id']}/messages", headers=agent.headers
    )
    second = messages.json()["items"][-1]["id"]
    split = await sla.client.post(
        f"/api/v1/tickets/{ticket['id']}/split",
        json={"message_id": second},
        headers=agent.headers,
    )
    assert split.status_code == 201, split.text
    first = (await sla.clocks(agent, split.json()["id"]))["first_response"]
    assert at(first["due_at"]) == T0 + timedelta(minutes=90)
