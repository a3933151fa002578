"""SLA policies through the API: validation as a whole, order, versions, re-application."""

from __future__ import annotations

from datetime import timedelta

from kefu.kit.time import FrozenClock
from tests.conftest import Actor, People
from tests.sla.conftest import MONDAY_9AM_SHANGHAI, Sla, at

T0 = MONDAY_9AM_SHANGHAI


async def test_policy_round_trips_in_the_form_people_write(sla: Sla, people: People) -> None:
    people.team("Support")
    await sla.calendar()
    created = await sla.policy(
        name="VIP",
        match={"priority": ["urgent", "high"], "tier": ["VIP"], "team": ["Support"]},
        calendar="Shanghai office",
        targets={"first_response": 1800, "resolution": "1h30m"},
        warning="20%",
        on_breach={"notify": ["supervisors"], "priority": "urgent"},
    )
    assert created["targets"] == {
        "first_response": "30m",
        "next_response": None,
        "resolution": "1h30m",
    }
    assert created["match"]["tier"] == ["vip"]
    assert created["match"]["team"] == ["Support"]
    assert created["calendar"] == "Shanghai office"
    assert created["position"] == 0
    assert created["version"] == 1
    fetched = await sla.client.get(
        f"/api/v1/sla-policies/{created['id']}", headers=sla.lead.headers
    )
    assert fetched.json() == created
    assert fetched.headers["etag"] == 'W/"1"'


async def test_a_bad_policy_is_refused_whole_with_every_field_at_fault(sla: Sla) -> None:
    good = await sla.policy(targets={"first_response": "1h"})
    bad = {
        "name": "Default",
        "match": {"priority": ["asap"]},
        "calendar": "Mars base",
        "targets": {"first_response": "soon", "resolution": "10s"},
        "warning": "150%",
        "on_breach": {"notify": ["everyone"]},
    }
    response = await sla.client.put(
        f"/api/v1/sla-policies/{good['id']}", json=bad, headers=sla.lead.headers
    )
    assert response.status_code == 422
    problem = response.json()
    locs = {tuple(e["loc"]) for e in problem["errors"]}
    assert ("body", "match", "priority", 0) in locs
    assert ("body", "targets", "first_response") in locs
    assert ("body", "targets", "resolution") in locs
    assert ("body", "warning") in locs
    assert ("body", "on_breach", "notify", 0) in locs
    unknown = {
        "name": "Other",
        "calendar": "Mars base",
        "match": {"team": ["Nobody"]},
        "targets": {"first_response": "1h"},
        "on_breach": {"team": "Ghosts"},
    }
    response = await sla.client.put(
        f"/api/v1/sla-policies/{good['id']}", json=unknown, headers=sla.lead.headers
    )
    assert response.status_code == 422
    assert {tuple(e["loc"]) for e in response.json()["errors"]} == {
        ("body", "calendar"),
        ("body", "match", "team", 0),
        ("body", "on_breach", "team"),
    }
    kept = await sla.client.get(f"/api/v1/sla-policies/{good['id']}", headers=sla.lead.headers)
    assert kept.json() == good


async def test_warning_must_come_before_the_shortest_target(sla: Sla) -> None:
    body = {"name": "X", "targets": {"first_response": "30m"}, "warning": "45m"}
    response = await sla.client.post("/api/v1/sla-policies", json=body, headers=sla.lead.headers)
    assert response.status_code == 422
    assert "shorter than the shortest target" in response.text


async def test_names_are_unique_and_versions_guard_edits(sla: Sla) -> None:
    policy = await sla.policy()
    again = await sla.client.post(
        "/api/v1/sla-policies",
        json={"name": "Default", "targets": {"resolution": "1h"}},
        headers=sla.lead.headers,
    )
    assert again.status_code == 422
    assert again.json()["errors"][0]["loc"] == ["body", "name"]
    body = {"name": "Default", "targets": {"resolution": "2h"}}
    stale = await sla.client.put(
        f"/api/v1/sla-policies/{policy['id']}",
        json=body,
        headers=sla.lead.headers | {"If-Match": 'W/"7"'},
    )
    assert stale.status_code == 409
    fresh = await sla.client.put(
        f"/api/v1/sla-policies/{policy['id']}",
        json=body,
        headers=sla.lead.headers | {"If-Match": 'W/"1"'},
    )
    assert fresh.status_code == 200
    assert fresh.json()["version"] == 2


async def test_order_decides_which_policy_applies(sla: Sla, agent: Actor) -> None:
    broad = await sla.policy(name="Everything", targets={"first_response": "4h"})
    email = await sla.policy(
        name="Email", match={"channel": ["email"]}, targets={"first_response": "1h"}
    )
    ticket = await sla.ticket(agent, channel="email")
    assert ticket["sla"][0]["policy"] == "Everything"
    order = await sla.client.put(
        "/api/v1/sla-policies/order", json={"ids": [email["id"]]}, headers=sla.lead.headers
    )
    assert [p["name"] for p in order.json()["items"]] == ["Email", "Everything"]
    assert (await sla.ticket(agent, channel="email"))["sla"][0]["policy"] == "Email"
    assert (await sla.ticket(agent, channel="api"))["sla"][0]["policy"] == "Everything"
    placed = await sla.policy(name="First", position=0, targets={"resolution": "1d"}, enabled=False)
    listing = await sla.client.get("/api/v1/sla-policies", headers=sla.lead.headers)
    assert [(p["name"], p["position"]) for p in listing.json()["items"]] == [
        ("First", 0),
        ("Email", 1),
        ("Everything", 2),
    ]
    assert placed["enabled"] is False
    assert broad["id"] != email["id"]


async def test_a_policy_change_is_reapplied_to_open_tickets(
    sla: Sla, agent: Actor, clock: FrozenClock
) -> None:
    policy = await sla.policy(targets={"first_response": "4h"})
    ticket = await sla.ticket(agent)
    clock.advance(minutes=30)
    body = {"name": "Default", "targets": {"first_response": "1h", "resolution": "8h"}}
    await sla.client.put(
        f"/api/v1/sla-policies/{policy['id']}", json=body, headers=sla.lead.headers
    )
    await sla.reapply()
    clocks = await sla.clocks(agent, ticket["id"])
    assert at(clocks["first_response"]["due_at"]) == T0 + timedelta(hours=1)
    assert at(clocks["resolution"]["due_at"]) == T0 + timedelta(minutes=30, hours=8)
    await sla.client.delete(f"/api/v1/sla-policies/{policy['id']}", headers=sla.lead.headers)
    await sla.reapply()
    assert await sla.clocks(agent, ticket["id"]) == {}


async def test_a_calendar_change_moves_running_due_times(
    sla: Sla, agent: Actor, clock: FrozenClock
) -> None:
    calendar = await sla.calendar()
    await sla.policy(calendar="Shanghai office", targets={"first_response": "4h"})
    ticket = await sla.ticket(agent)
    due = at((await sla.clocks(agent, ticket["id"]))["first_response"]["due_at"])
    assert due == T0 + timedelta(hours=5)  # 9-12, lunch, 13-14
    changed = {k: calendar[k] for k in ("name", "time_zone", "week")}
    changed["holidays"] = [{"date": "2026-01-05", "name": "Office moving day"}]
    response = await sla.client.put(
        f"/api/v1/calendars/{calendar['id']}", json=changed, headers=sla.lead.headers
    )
    assert response.status_code == 200, response.text
    await sla.reapply()
    due = at((await sla.clocks(agent, ticket["id"]))["first_response"]["due_at"])
    assert due == T0 + timedelta(days=1, hours=5)  # Tuesday 14:00


async def test_agents_read_policies_but_only_leads_write(
    sla: Sla, agent: Actor, people: People
) -> None:
    await sla.policy()
    assert (await sla.client.get("/api/v1/sla-policies", headers=agent.headers)).status_code == 200
    assert (await sla.client.get("/api/v1/calendars", headers=agent.headers)).status_code == 200
    body = {"name": "Mine", "targets": {"first_response": "1h"}}
    denied = await sla.client.post("/api/v1/sla-policies", json=body, headers=agent.headers)
    assert denied.status_code == 403
    engineer = people.user("field_engineer")
    hidden = await sla.client.get("/api/v1/sla-policies", headers=engineer.headers)
    assert hidden.status_code == 403
    admin = people.user("admin")
    allowed = await sla.client.post("/api/v1/sla-policies", json=body, headers=admin.headers)
    assert allowed.status_code == 201


async def test_attainment_counts_met_and_breached(
    sla: Sla, agent: Actor, clock: FrozenClock
) -> None:
    await sla.policy(targets={"first_response": "1h"})
    fast = await sla.ticket(agent)
    slow = await sla.ticket(agent)
    await sla.ticket(agent)
    clock.advance(minutes=30)
    await sla.message(agent, fast["id"], body="Quick answer")
    clock.advance(hours=1)
    await sla.sweep()
    await sla.message(agent, slow["id"], body="Late answer")
    response = await sla.client.get(
        "/api/v1/sla-policies/attainment",
        params={"start": T0.isoformat(), "end": (T0 + timedelta(days=1)).isoformat()},
        headers=sla.lead.headers,
    )
    first = response.json()["metrics"][0]
    assert first == {
        "metric": "first_response",
        "met": 1,
        "breached": 2,
        "running": 0,
        "attainment": 0.3333,
    }
