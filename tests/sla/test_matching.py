"""Which policy applies: tier, team (by id, so renames keep working), disabled policies;
re-application in resumable batches; notifications read and cleared."""

from __future__ import annotations

import pytest

from kefu.sla import policies, service, tasks
from tests.conftest import Actor, People
from tests.sla.conftest import Sla


async def test_tier_and_team_conditions(sla: Sla, people: People, agent: Actor) -> None:
    support = people.team("Support")
    await sla.policy(
        name="VIP support",
        match={"tier": ["vip"], "team": ["Support"]},
        targets={"first_response": "15m"},
    )
    await sla.policy(name="Default", targets={"first_response": "4h"})
    customer = await sla.client.post(
        "/api/v1/customers",
        json={"name": "Wang Fang", "email": "wang@example.com", "tier": "vip"},
        headers=agent.headers,
    )
    assert customer.status_code == 201, customer.text
    vip = {"email": "wang@example.com"}
    in_team = await sla.ticket(agent, requester=vip, team_id=support)
    assert in_team["sla"][0]["policy"] == "VIP support"
    assert (await sla.ticket(agent, requester=vip))["sla"][0]["policy"] == "Default"
    assert (await sla.ticket(agent, team_id=support))["sla"][0]["policy"] == "Default"
    renamed = await sla.client.patch(
        f"/api/v1/teams/{support}", json={"name": "Support CN"}, headers=sla.lead.headers
    )
    assert renamed.status_code == 200, renamed.text
    again = await sla.ticket(agent, requester=vip, team_id=support)
    assert again["sla"][0]["policy"] == "VIP support"
    listed = await sla.client.get("/api/v1/sla-policies", headers=agent.headers)
    assert listed.json()["items"][0]["match"]["team"] == ["Support CN"]


async def test_disabled_policies_are_skipped(sla: Sla, agent: Actor) -> None:
    await sla.policy(name="Off", enabled=False, targets={"first_response": "5m"})
    await sla.policy(name="On", targets={"first_response": "1h"})
    assert (await sla.ticket(agent))["sla"][0]["policy"] == "On"


async def test_a_ticket_created_pending_starts_paused(sla: Sla, agent: Actor) -> None:
    await sla.policy(targets={"first_response": "1h", "resolution": "1d"})
    ticket = await sla.ticket(agent, status="pending")
    assert {c["status"] for c in ticket["sla"]} == {"paused"}
    assert all(c["due_at"] is None for c in ticket["sla"])


async def test_reapplying_resumes_in_batches_and_gives_way_to_newer_changes(
    sla: Sla, agent: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    tickets = [await sla.ticket(agent) for _ in range(5)]
    policy = await sla.policy(targets={"first_response": "2h"})
    monkeypatch.setattr(tasks, "REAPPLY_BUDGET_S", -1.0)  # one batch per job
    original = service.reapply_batch

    def small_batches(ctx, token, after_id, limit=2):  # type: ignore[no-untyped-def]
        return original(ctx, token, after_id, 2)

    monkeypatch.setattr(service, "reapply_batch", small_batches)
    for _ in range(4):
        await sla.reapply()
    for ticket in tickets:
        clocks = await sla.clocks(agent, ticket["id"])
        assert clocks["first_response"]["target_s"] == 7200
    stale = sla.runtime.db.run_write(original, "not-the-current-token", 0)
    assert stale is None
    current = sla.runtime.db.run_read(policies.load_policy_set).token
    assert current is not None
    assert policy["name"] == "Default"


async def test_notifications_are_read_and_cleared(sla: Sla, people: People, agent: Actor) -> None:
    await sla.policy(targets={"first_response": "1h"}, on_breach={"notify": ["assignee"]})
    for _ in range(3):
        await sla.ticket(agent, assignee_id=agent.id)
    sla.runtime.clock.advance(hours=2)  # type: ignore[attr-defined]
    await sla.sweep()
    mine = (await sla.client.get("/api/v1/notifications", headers=agent.headers)).json()
    assert mine["unread"] == 3
    first = mine["items"][0]["id"]
    marked = await sla.client.post(
        "/api/v1/notifications/read", json={"ids": [first]}, headers=agent.headers
    )
    assert marked.json() == {"marked": 1}
    unread = await sla.client.get("/api/v1/notifications?unread=true", headers=agent.headers)
    assert [n["id"] for n in unread.json()["items"]] == [n["id"] for n in mine["items"][1:]]
    other = people.user("agent")
    assert (await sla.client.get("/api/v1/notifications", headers=other.headers)).json()[
        "items"
    ] == []
    stolen = await sla.client.post(
        "/api/v1/notifications/read", json={"ids": [first]}, headers=other.headers
    )
    assert stolen.json() == {"marked": 0}
    everything = await sla.client.post("/api/v1/notifications/read", json={}, headers=agent.headers)
    assert everything.json() == {"marked": 2}


async def test_export_reads_back_the_same_document(sla: Sla, people: People) -> None:
    people.team("Support")
    await sla.calendar(holidays=[{"date": "2026-10-01", "end": "2026-10-07", "name": "国庆节"}])
    await sla.policy(
        name="VIP",
        match={"tier": ["vip"], "team": ["Support"]},
        calendar="Shanghai office",
        targets={"first_response": "30m"},
        warning="25%",
    )
    exported = await sla.client.get("/api/v1/sla-policies/export", headers=sla.lead.headers)
    doc = exported.json()
    assert doc["calendars"][0]["holidays"][0]["name"] == "国庆节"
    assert doc["sla_policies"][0]["warning"] == "25%"
    assert "id" not in doc["sla_policies"][0]
    imported = await sla.client.post(
        "/api/v1/sla-policies/import", json=doc, headers=sla.lead.headers
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["policies_updated"] == ["VIP"]
    again = await sla.client.get("/api/v1/sla-policies/export", headers=sla.lead.headers)
    assert again.json() == doc
    broken = doc | {"sla_policies": [doc["sla_policies"][0] | {"calendar": "Nowhere"}]}
    refused = await sla.client.post(
        "/api/v1/sla-policies/import", json=broken, headers=sla.lead.headers
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["body", "sla_policies", 0, "calendar"]
