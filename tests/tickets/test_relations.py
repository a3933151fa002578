"""Tickets in relation: merge, split, link and unlink, and bulk update of many at once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Actor, People, create_ticket

API = "/api/v1/tickets"


async def get(client: httpx.AsyncClient, actor: Actor, path: str) -> Any:
    response = await client.get(f"{API}/{path}", headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def history_kinds(
    client: httpx.AsyncClient, actor: Actor, ticket_id: int
) -> list[tuple[str, str | None, str | None]]:
    items = (await get(client, actor, f"{ticket_id}/history"))["items"]
    return [(h["kind"], h["field"], h["new_value"]) for h in items]


async def reply(client: httpx.AsyncClient, actor: Actor, ticket_id: int, text: str) -> int:
    response = await client.post(
        f"{API}/{ticket_id}/messages", json={"body": text}, headers=actor.headers
    )
    assert response.status_code == 201, response.text
    message_id: int = response.json()["id"]
    return message_id


# -- merge ---------------------------------------------------------------------------------
async def test_merge_moves_the_conversation_and_closes_the_source(
    client: httpx.AsyncClient, agent: Actor, people: People
) -> None:
    other = people.user("agent")
    target = await create_ticket(client, agent, tags=["vip"], follower_ids=[agent.id])
    source = await create_ticket(
        client,
        agent,
        subject="Same refund again",
        body="Second mail about the lost parcel xyzzy",
        tags=["late", "vip"],
        follower_ids=[other.id],
    )
    await reply(client, agent, source["id"], "Merging this")
    merged = await client.post(
        f"{API}/{target['id']}/merge", json={"source_ids": [source["id"]]}, headers=agent.headers
    )
    assert merged.status_code == 200, merged.text
    survivor = merged.json()
    assert survivor["tags"] == ["late", "vip"]
    assert survivor["follower_ids"] == sorted([agent.id, other.id])
    assert survivor["message_count"] == 3
    assert survivor["version"] == 2
    texts = [
        m["body_text"] for m in (await get(client, agent, f"{target['id']}/messages"))["items"]
    ]
    assert "Second mail about the lost parcel xyzzy" in texts
    assert "Merging this" in texts
    closed = await get(client, agent, str(source["id"]))
    assert (closed["status"], closed["merged_into_id"]) == ("closed", target["id"])
    assert closed["message_count"] == 0
    assert closed["closed_at"] is not None
    assert ("merged_from", "messages", f"#{source['id']}") in await history_kinds(
        client, agent, target["id"]
    )
    assert ("merged_into", "status", "closed") in await history_kinds(client, agent, source["id"])
    found = await client.get(API, params={"q": "xyzzy"}, headers=agent.headers)
    assert [t["id"] for t in found.json()["items"]] == [target["id"]]
    refused = await client.patch(
        f"{API}/{source['id']}", json={"priority": "high"}, headers=agent.headers
    )
    assert refused.status_code == 409
    assert f"#{target['id']}" in refused.json()["detail"]


async def test_merge_many_at_once(client: httpx.AsyncClient, agent: Actor) -> None:
    target = await create_ticket(client, agent)
    sources = [await create_ticket(client, agent, subject=f"dup {n}") for n in range(3)]
    ids = [s["id"] for s in sources]
    merged = await client.post(
        f"{API}/{target['id']}/merge", json={"source_ids": [*ids, ids[0]]}, headers=agent.headers
    )
    assert merged.status_code == 200
    assert merged.json()["message_count"] == 4
    for source_id in ids:
        assert (await get(client, agent, str(source_id)))["merged_into_id"] == target["id"]


async def test_merge_refusals(client: httpx.AsyncClient, agent: Actor, people: People) -> None:
    target = await create_ticket(client, agent)
    closed = await create_ticket(client, agent)
    await client.patch(f"{API}/{closed['id']}", json={"status": "closed"}, headers=agent.headers)
    hidden = await create_ticket(client, people.user("admin"), team_id=people.team(private=True))

    async def merge(into: int, sources: list[int]) -> httpx.Response:
        return await client.post(
            f"{API}/{into}/merge", json={"source_ids": sources}, headers=agent.headers
        )

    assert (await merge(target["id"], [target["id"]])).status_code == 422
    assert (await merge(target["id"], [closed["id"]])).status_code == 409
    assert (await merge(closed["id"], [target["id"]])).status_code == 409
    assert (await merge(target["id"], [hidden["id"]])).status_code == 404
    assert (await merge(target["id"], [999_999])).status_code == 404
    assert (await merge(target["id"], [])).status_code == 422
    after = await get(client, agent, str(target["id"]))
    assert (after["version"], after["message_count"]) == (1, 1)


# -- split ---------------------------------------------------------------------------------
async def test_split_moves_a_message_to_a_linked_ticket(
    client: httpx.AsyncClient, agent: Actor, app: Any
) -> None:
    seen: list[dict[str, Any]] = []
    app.state.runtime.bus.subscribe("ticket.created", lambda e: seen.append(e.payload))
    original = await create_ticket(client, agent, tags=["vip"], priority="high")
    message_id = await reply(client, agent, original["id"], "Also, a different question")
    split = await client.post(
        f"{API}/{original['id']}/split",
        json={"message_id": message_id, "subject": "Different question"},
        headers=agent.headers,
    )
    assert split.status_code == 201, split.text
    new = split.json()
    assert new["subject"] == "Different question"
    assert (new["status"], new["priority"], new["tags"]) == ("open", "high", ["vip"])
    assert new["message_count"] == 1
    assert [(link["other_id"], link["direction"]) for link in new["links"]] == [
        (original["id"], "outgoing")
    ]
    old = await get(client, agent, str(original["id"]))
    assert old["message_count"] == 1
    assert [(link["other_id"], link["direction"]) for link in old["links"]] == [
        (new["id"], "incoming")
    ]
    moved = (await get(client, agent, f"{new['id']}/messages"))["items"]
    assert [m["id"] for m in moved] == [message_id]
    assert ("split_from", "message", f"#{original['id']}") in await history_kinds(
        client, agent, new["id"]
    )
    assert ("split_to", "message", f"#{new['id']}") in await history_kinds(
        client, agent, original["id"]
    )
    await app.state.runtime.bus.drain()
    created = [p for p in seen if p["ticket_id"] == new["id"]]
    assert created and set(created[0]) >= set(seen[0]), "split announces what a create does"
    assert created[0]["split_from"] == original["id"]


async def test_split_refusals(client: httpx.AsyncClient, agent: Actor) -> None:
    lonely = await create_ticket(client, agent)
    messages = (await get(client, agent, f"{lonely['id']}/messages"))["items"]
    only = await client.post(
        f"{API}/{lonely['id']}/split", json={"message_id": messages[0]["id"]}, headers=agent.headers
    )
    assert only.status_code == 409
    other = await create_ticket(client, agent)
    elsewhere = await client.post(
        f"{API}/{other['id']}/split", json={"message_id": messages[0]["id"]}, headers=agent.headers
    )
    assert elsewhere.status_code == 422
    assert elsewhere.json()["errors"][0]["loc"] == ["body", "message_id"]


# -- links ---------------------------------------------------------------------------------
async def test_link_and_unlink(client: httpx.AsyncClient, agent: Actor) -> None:
    a, b = await create_ticket(client, agent), await create_ticket(client, agent)
    linked = await client.post(
        f"{API}/{a['id']}/links",
        json={"other_id": b["id"], "kind": "duplicate"},
        headers=agent.headers,
    )
    assert linked.status_code == 201, linked.text
    assert [(x["other_id"], x["kind"], x["direction"]) for x in linked.json()["links"]] == [
        (b["id"], "duplicate", "outgoing")
    ]
    seen_from_b = (await get(client, agent, str(b["id"])))["links"]
    assert [(x["other_id"], x["direction"]) for x in seen_from_b] == [(a["id"], "incoming")]
    assert ("linked", "duplicate", f"#{b['id']}") in await history_kinds(client, agent, a["id"])
    assert ("linked", "duplicate", f"#{a['id']}") in await history_kinds(client, agent, b["id"])
    for x, y in ((a, b), (b, a)):
        again = await client.post(
            f"{API}/{x['id']}/links", json={"other_id": y["id"]}, headers=agent.headers
        )
        assert again.status_code == 409
    unlinked = await client.delete(f"{API}/{b['id']}/links/{a['id']}", headers=agent.headers)
    assert unlinked.status_code == 200
    assert unlinked.json()["links"] == []
    assert (await get(client, agent, str(a["id"])))["links"] == []
    missing = await client.delete(f"{API}/{b['id']}/links/{a['id']}", headers=agent.headers)
    assert missing.status_code == 404


async def test_link_refusals(client: httpx.AsyncClient, agent: Actor, people: People) -> None:
    a = await create_ticket(client, agent)
    hidden = await create_ticket(client, people.user("admin"), team_id=people.team(private=True))
    for other_id in (a["id"], hidden["id"], 999_999):
        response = await client.post(
            f"{API}/{a['id']}/links", json={"other_id": other_id}, headers=agent.headers
        )
        assert response.status_code == 422, other_id
        assert response.json()["errors"][0]["loc"] == ["body", "other_id"]
    bad_kind = await client.post(
        f"{API}/{a['id']}/links",
        json={"other_id": hidden["id"], "kind": "cousin"},
        headers=agent.headers,
    )
    assert bad_kind.status_code == 422


# -- bulk ----------------------------------------------------------------------------------
async def test_bulk_update_reports_each_failure_and_keeps_the_rest(
    client: httpx.AsyncClient, agent: Actor, people: People
) -> None:
    ok1, ok2 = await create_ticket(client, agent), await create_ticket(client, agent)
    closed = await create_ticket(client, agent)
    await client.patch(f"{API}/{closed['id']}", json={"status": "closed"}, headers=agent.headers)
    hidden = await create_ticket(client, people.user("admin"), team_id=people.team(private=True))
    ids = [ok1["id"], closed["id"], 999_999, hidden["id"], ok2["id"], ok1["id"]]
    response = await client.post(
        f"{API}/bulk-update",
        json={"ids": ids, "changes": {"priority": "urgent", "add_tags": ["bulk"]}},
        headers=agent.headers,
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["updated"] == [ok1["id"], ok2["id"]]
    assert {(e["id"], e["status"]) for e in result["errors"]} == {
        (closed["id"], 409),
        (999_999, 404),
        (hidden["id"], 404),
    }
    for t in (ok1, ok2):
        after = await get(client, agent, str(t["id"]))
        assert (after["priority"], after["tags"], after["version"]) == ("urgent", ["bulk"], 2)
    assert (await get(client, agent, str(closed["id"])))["priority"] == "normal"


async def test_bulk_update_rolls_back_a_ticket_half_changed(
    client: httpx.AsyncClient, agent: Actor, people: People
) -> None:
    team = people.team(members=[agent.id])
    fits = await create_ticket(client, agent, team_id=team)
    outside = await create_ticket(client, agent)
    other_team = people.team()
    await client.patch(
        f"{API}/{outside['id']}", json={"team_id": other_team}, headers=agent.headers
    )
    response = await client.post(
        f"{API}/bulk-update",
        json={
            "ids": [fits["id"], outside["id"]],
            "changes": {"subject": "Renamed", "assignee_id": agent.id},
        },
        headers=agent.headers,
    )
    result = response.json()
    assert result["updated"] == [fits["id"]]
    assert [(e["id"], e["status"]) for e in result["errors"]] == [(outside["id"], 422)]
    untouched = await get(client, agent, str(outside["id"]))
    assert (untouched["subject"], untouched["assignee"]) == ("Refund for order 1042", None)
    assert (await get(client, agent, str(fits["id"])))["subject"] == "Renamed"


async def test_bulk_update_validates_its_shape(client: httpx.AsyncClient, agent: Actor) -> None:
    for body in ({"ids": [], "changes": {}}, {"ids": [1], "changes": {"status": "asleep"}}):
        response = await client.post(f"{API}/bulk-update", json=body, headers=agent.headers)
        assert response.status_code == 422


async def test_bulk_events_only_for_what_changed(
    client: httpx.AsyncClient, agent: Actor, app: Any
) -> None:
    seen: list[int] = []
    app.state.runtime.bus.subscribe("ticket.updated", lambda e: seen.append(e.payload["ticket_id"]))
    ok = await create_ticket(client, agent)
    closed = await create_ticket(client, agent)
    await client.patch(f"{API}/{closed['id']}", json={"status": "closed"}, headers=agent.headers)
    seen.clear()
    await client.post(
        f"{API}/bulk-update",
        json={"ids": [closed["id"], ok["id"]], "changes": {"priority": "low"}},
        headers=agent.headers,
    )
    await app.state.runtime.bus.drain()
    assert seen == [ok["id"]]


@pytest.mark.parametrize("field", ["subject", "assignee_id", "priority"])
async def test_field_engineer_bulk_limits(
    client: httpx.AsyncClient, people: People, field: str
) -> None:
    engineer = people.user("field_engineer")
    value: Any = {"subject": "x", "assignee_id": engineer.id, "priority": "low"}[field]
    response = await client.post(
        f"{API}/bulk-update", json={"ids": [1], "changes": {field: value}}, headers=engineer.headers
    )
    assert response.status_code == 403
