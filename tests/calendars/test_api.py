"""Business-hours calendars through the API."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Actor, People

WEEKDAYS = {d: ["09:00-12:00", "13:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}


def china(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "China",
        "time_zone": "Asia/Shanghai",
        "week": WEEKDAYS,
        "holidays": [{"date": "2026-02-16", "end": "2026-02-22", "name": "春节"}],
        "extra_days": [{"date": "2026-02-14", "name": "调休"}, {"date": "2026-02-28"}],
    } | overrides


async def test_calendar_crud_and_its_arithmetic(
    client: httpx.AsyncClient, people: People, agent: Actor
) -> None:
    lead = people.user("supervisor")
    created = await client.post("/api/v1/calendars", json=china(), headers=lead.headers)
    assert created.status_code == 201, created.text
    calendar = created.json()
    assert calendar["week"]["mon"] == ["09:00-12:00", "13:00-18:00"]
    assert "sat" not in calendar["week"]
    assert calendar["extra_days"][0] == {"date": "2026-02-14", "hours": None, "name": "调休"}
    # Friday 13 Feb 17:00 + 3 business hours: 17-18, then Saturday 14th (调休) 9-11.
    answer = await client.get(
        f"/api/v1/calendars/{calendar['id']}/business-time",
        params={"start": "2026-02-13T17:00:00+08:00", "seconds": 3 * 3600},
        headers=agent.headers,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["end"] == "2026-02-14T03:00:00Z"
    # The Spring Festival week has no working time at all.
    week = await client.get(
        f"/api/v1/calendars/{calendar['id']}/business-time",
        params={"start": "2026-02-15T18:00:00+08:00", "end": "2026-02-23T00:00:00+08:00"},
        headers=agent.headers,
    )
    assert week.json()["business_seconds"] == 0
    listing = await client.get("/api/v1/calendars", headers=agent.headers)
    assert [c["name"] for c in listing.json()["items"]] == ["China"]
    changed = china(name="China mainland", week={"mon": ["08:30-17:30"]})
    replaced = await client.put(
        f"/api/v1/calendars/{calendar['id']}",
        json=changed,
        headers=lead.headers | {"If-Match": 'W/"1"'},
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["version"] == 2
    assert replaced.json()["week"] == {"mon": ["08:30-17:30"]}
    gone = await client.delete(f"/api/v1/calendars/{calendar['id']}", headers=lead.headers)
    assert gone.status_code == 204
    assert (
        await client.get(f"/api/v1/calendars/{calendar['id']}", headers=agent.headers)
    ).status_code == 404


async def test_a_bad_calendar_is_refused_whole_with_the_path_of_each_fault(
    client: httpx.AsyncClient, people: People
) -> None:
    lead = people.user("supervisor")
    bad = china(
        time_zone="Mars/Olympus",
        week={"mon": ["09:00-12:00", "11:00-13:00"], "tue": ["18:00-09:00"], "fri": ["9am"]},
        holidays=[{"date": "2026-05-05", "end": "2026-05-01"}],
    )
    response = await client.post("/api/v1/calendars", json=bad, headers=lead.headers)
    assert response.status_code == 422
    locs = {tuple(e["loc"]) for e in response.json()["errors"]}
    assert locs >= {
        ("body", "time_zone"),
        ("body", "week", "mon"),
        ("body", "week", "tue", 0),
        ("body", "week", "fri", 0),
        ("body", "holidays", 0),
    }
    clash = china(
        extra_days=[{"date": "2026-02-17"}, {"date": "2026-02-28"}, {"date": "2026-02-28"}]
    )
    response = await client.post("/api/v1/calendars", json=clash, headers=lead.headers)
    assert response.status_code == 422
    assert {tuple(e["loc"]) for e in response.json()["errors"]} == {
        ("body", "extra_days", 0, "date"),
        ("body", "extra_days", 2, "date"),
    }
    closed = await client.post(
        "/api/v1/calendars", json=china(week={"sat": []}), headers=lead.headers
    )
    assert closed.status_code == 422
    assert closed.json()["errors"][0]["loc"] == ["body", "week"]
    listing = await client.get("/api/v1/calendars", headers=lead.headers)
    assert listing.json()["items"] == []


async def test_a_calendar_in_use_cannot_be_deleted(
    client: httpx.AsyncClient, people: People, agent: Actor
) -> None:
    lead = people.user("supervisor")
    calendar = (await client.post("/api/v1/calendars", json=china(), headers=lead.headers)).json()
    policy = {"name": "China hours", "calendar": "China", "targets": {"first_response": "2h"}}
    created = await client.post("/api/v1/sla-policies", json=policy, headers=lead.headers)
    assert created.status_code == 201, created.text
    refused = await client.delete(f"/api/v1/calendars/{calendar['id']}", headers=lead.headers)
    assert refused.status_code == 409
    assert "China hours" in refused.json()["detail"]
    denied = await client.post("/api/v1/calendars", json=china(name="x"), headers=agent.headers)
    assert denied.status_code == 403
