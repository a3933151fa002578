"""Object-level rules: private teams hide their tickets from other agents, field engineers see
only their own work; hidden tickets answer 404 so their existence does not leak."""

from __future__ import annotations

import httpx

from tests.conftest import Actor, People, create_ticket

API = "/api/v1/tickets"


async def ids(client: httpx.AsyncClient, actor: Actor, **params: object) -> set[int]:
    response = await client.get(API, params={"limit": 200, **params}, headers=actor.headers)
    assert response.status_code == 200, response.text
    return {t["id"] for t in response.json()["items"]}


async def count(client: httpx.AsyncClient, actor: Actor) -> int:
    response = await client.get(f"{API}/count", headers=actor.headers)
    value: int = response.json()["count"]
    return value


async def test_private_team_tickets_are_hidden_from_outsiders(
    client: httpx.AsyncClient, people: People
) -> None:
    lead = people.user("supervisor")
    insider, outsider = people.user("agent"), people.user("agent")
    vault = people.team(private=True, members=[insider.id])
    open_team = people.team(members=[insider.id])
    secret = await create_ticket(client, lead, team_id=vault, subject="Secret xyzzy")
    public = await create_ticket(client, lead, team_id=open_team)
    loose = await create_ticket(client, lead)
    assigned = await create_ticket(client, lead, subject="Also secret")
    await client.patch(f"{API}/{assigned['id']}", json={"team_id": vault}, headers=lead.headers)
    everything = {secret["id"], public["id"], loose["id"], assigned["id"]}
    assert await ids(client, lead) == everything
    assert await ids(client, insider) == everything
    assert await ids(client, outsider) == {public["id"], loose["id"]}
    assert await count(client, outsider) == 2
    assert await ids(client, outsider, q="xyzzy") == set()
    for path in ("", "/messages", "/history"):
        hidden = await client.get(f"{API}/{secret['id']}{path}", headers=outsider.headers)
        assert hidden.status_code == 404, path
        assert (
            await client.get(f"{API}/{secret['id']}{path}", headers=insider.headers)
        ).status_code == 200
    edit = await client.patch(
        f"{API}/{secret['id']}", json={"priority": "low"}, headers=outsider.headers
    )
    assert edit.status_code == 404
    # Made public, the team's tickets show.
    await client.patch(f"/api/v1/teams/{vault}", json={"private": False}, headers=lead.headers)
    assert await ids(client, outsider) == everything


async def test_an_agent_sees_a_private_ticket_assigned_to_them(
    client: httpx.AsyncClient, people: People
) -> None:
    lead = people.user("supervisor")
    member, helper = people.user("agent"), people.user("agent")
    vault = people.team(private=True, members=[member.id, helper.id])
    ticket = await create_ticket(client, lead, team_id=vault, assignee_id=helper.id)
    # The helper leaves the team but keeps the ticket.
    await client.patch(
        f"/api/v1/teams/{vault}", json={"member_ids": [member.id]}, headers=lead.headers
    )
    assert await ids(client, helper) == {ticket["id"]}
    assert (await client.get(f"{API}/{ticket['id']}", headers=helper.headers)).status_code == 200


async def test_field_engineers_see_only_their_work(
    client: httpx.AsyncClient, people: People
) -> None:
    lead = people.user("supervisor")
    engineer, other = people.user("field_engineer"), people.user("field_engineer")
    mine = await create_ticket(client, lead, assignee_id=engineer.id)
    theirs = await create_ticket(client, lead, assignee_id=other.id)
    nobody = await create_ticket(client, lead)
    assert await ids(client, engineer) == {mine["id"]}
    assert await count(client, engineer) == 1
    assert await ids(client, engineer, assignee_id="none") == set()
    for ticket in (theirs, nobody):
        assert (
            await client.get(f"{API}/{ticket['id']}", headers=engineer.headers)
        ).status_code == 404
    done = await client.patch(
        f"{API}/{mine['id']}",
        json={"status": "solved", "add_tags": ["fixed-on-site"]},
        headers=engineer.headers,
    )
    assert done.status_code == 200, done.text
    for body in ({"subject": "x"}, {"assignee_id": None}, {"priority": "low"}, {"team_id": None}):
        refused = await client.patch(f"{API}/{mine['id']}", json=body, headers=engineer.headers)
        assert refused.status_code == 403, body
    note = await client.post(
        f"{API}/{mine['id']}/messages",
        json={"body": "replaced the part", "visibility": "note"},
        headers=engineer.headers,
    )
    assert note.status_code == 201
    assert (await client.delete(f"{API}/{mine['id']}", headers=engineer.headers)).status_code == 403


async def test_hidden_tickets_cannot_be_touched_through_relations(
    client: httpx.AsyncClient, people: People
) -> None:
    lead, outsider = people.user("supervisor"), people.user("agent")
    vault = people.team(private=True)
    secret = await create_ticket(client, lead, team_id=vault, subject="Vault subject")
    mine = await create_ticket(client, outsider)
    for path, body in (
        (f"{secret['id']}/merge", {"source_ids": [mine["id"]]}),
        (f"{mine['id']}/merge", {"source_ids": [secret["id"]]}),
        (f"{secret['id']}/links", {"other_id": mine["id"]}),
        (f"{secret['id']}/messages", {"body": "hi"}),
    ):
        response = await client.post(f"{API}/{path}", json=body, headers=outsider.headers)
        assert response.status_code in (404, 422), path
        assert "Vault subject" not in response.text
    assert (await client.get(f"{API}/{secret['id']}", headers=lead.headers)).json()["version"] == 1
