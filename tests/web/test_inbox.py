"""The inbox: built-in views and their counts, search, sorting, bulk actions, live rows."""

from __future__ import annotations

import re

import httpx
import pytest

from kefu.tickets import web as inbox_web
from tests.conftest import Actor, People, create_ticket
from tests.web.conftest import SignIn


def row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr class="row" data-id="(\d+)"', html)]


def count_of(html: str, view: str) -> int:
    match = re.search(
        rf'href="/inbox\?view={view}"[^>]*>\s*<span>[^<]*</span><span class="count">(\d+)', html
    )
    assert match is not None, view
    return int(match.group(1))


async def test_views_list_and_count_the_right_tickets(
    client: httpx.AsyncClient, browser: SignIn, people: People, admin: Actor
) -> None:
    team = people.team("Billing")
    me = people.user("agent", teams=[team])
    mine = await create_ticket(client, admin, subject="Mine", assignee_id=me.id, team_id=team)
    loose = await create_ticket(client, admin, subject="Nobody's")
    waiting = await create_ticket(client, admin, subject="Waiting", status="pending")
    b = await browser(me)
    page = await b.get("/inbox")
    assert row_ids(page.text) == [mine["id"]]
    assert count_of(page.text, "mine") == 1
    assert count_of(page.text, "unassigned") == 1
    assert count_of(page.text, "teams") == 1
    assert count_of(page.text, "open") == 2
    assert count_of(page.text, "pending") == 1
    assert row_ids((await b.get("/inbox?view=unassigned")).text) == [loose["id"]]
    assert row_ids((await b.get("/inbox?view=pending")).text) == [waiting["id"]]


async def test_solved_today_counts_from_the_readers_midnight(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    ticket = await create_ticket(client, admin)
    response = await client.patch(
        f"/api/v1/tickets/{ticket['id']}", json={"status": "solved"}, headers=admin.headers
    )
    assert response.status_code == 200
    b = await browser(admin)
    page = await b.get("/inbox?view=solved")
    assert row_ids(page.text) == [ticket["id"]]
    assert count_of(page.text, "solved") == 1


async def test_agents_do_not_see_private_teams_tickets(
    client: httpx.AsyncClient, browser: SignIn, people: People, admin: Actor
) -> None:
    secret = people.team("VIP desk", private=True)
    await create_ticket(client, admin, subject="Private matter", team_id=secret)
    outsider = await browser(people.user("agent"))
    page = await outsider.get("/inbox?view=open")
    assert "Private matter" not in page.text
    assert count_of(page.text, "open") == 0
    search = await outsider.get("/inbox?view=all&q=Private")
    assert row_ids(search.text) == []


async def test_search_finds_by_words_and_answers_htmx_with_the_list_only(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    wanted = await create_ticket(client, admin, subject="Printer on fire", body="托盘卡纸了")
    await create_ticket(client, admin, subject="Password reset")
    b = await browser(admin)
    page = await b.get("/inbox?view=all&q=printer")
    assert row_ids(page.text) == [wanted["id"]]
    partial = await b.get("/inbox", htmx=True, view="all", q="卡纸")
    assert row_ids(partial.text) == [wanted["id"]]
    assert "<html" not in partial.text and 'id="list"' in partial.text


async def test_sorting_by_priority_and_age(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    low = await create_ticket(client, admin, priority="low")
    urgent = await create_ticket(client, admin, priority="urgent")
    b = await browser(admin)
    by_priority = row_ids((await b.get("/inbox?view=open&sort=-priority")).text)
    assert by_priority == [urgent["id"], low["id"]]
    oldest = row_ids((await b.get("/inbox?view=open&sort=created_at")).text)
    assert oldest == [low["id"], urgent["id"]]
    bad = await b.get("/inbox?view=open&sort=-subject")
    assert bad.status_code == 422


async def test_filters_make_a_custom_view_and_bad_filters_say_which(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    tagged = await create_ticket(client, admin, tags=["refund"], priority="high")
    await create_ticket(client, admin, tags=["refund"])
    b = await browser(admin)
    page = await b.get("/inbox?tag=refund&priority=high&status=new")
    assert row_ids(page.text) == [tagged["id"]]
    assert "Filtered tickets" in page.text
    bad = await b.get("/inbox?priority=enormous")
    assert bad.status_code == 422
    assert "priority" in bad.text


async def test_bulk_assign_status_priority_and_tags(
    client: httpx.AsyncClient, browser: SignIn, people: People, admin: Actor
) -> None:
    mate = people.user("agent", name="Teammate")
    ids = [(await create_ticket(client, admin))["id"] for _ in range(3)]
    b = await browser(admin)
    for data in (
        {"action": "assignee_id", "assignee_id": str(mate.id)},
        {"action": "status", "status": "pending"},
        {"action": "priority", "priority": "urgent"},
        {"action": "add_tags", "add_tags": "vip, 退款"},
    ):
        response = await b.post("/inbox/bulk", {"ids": [str(i) for i in ids], **data})
        assert response.status_code == 200, response.text
        assert response.headers["HX-Trigger"] == "inbox-changed"
        assert "3 tickets updated." in response.text
    for ticket_id in ids:
        ticket = (await client.get(f"/api/v1/tickets/{ticket_id}", headers=admin.headers)).json()
        assert ticket["assignee"]["id"] == mate.id
        assert (ticket["status"], ticket["priority"]) == ("pending", "urgent")
        assert ticket["tags"] == ["vip", "退款"]


async def test_bulk_reports_each_refusal_and_merges_into_the_oldest(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    ids = [(await create_ticket(client, admin))["id"] for _ in range(3)]
    b = await browser(admin)
    merged = await b.post("/inbox/bulk", {"ids": [str(ids[2]), str(ids[1])], "action": "merge"})
    assert f"into #{ids[1]}" in merged.text
    refused = await b.post(
        "/inbox/bulk", {"ids": [str(i) for i in ids], "action": "status", "status": "open"}
    )
    assert "2 tickets updated." in refused.text
    assert f"#{ids[2]}" in refused.text and "closed" in refused.text
    nothing = await b.post("/inbox/bulk", {"action": "status", "status": "open"})
    assert nothing.status_code == 422


async def test_live_rows_returns_only_rows_still_in_the_view(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    stays = await create_ticket(client, admin)
    leaves = await create_ticket(client, admin)
    await client.patch(
        f"/api/v1/tickets/{leaves['id']}", json={"status": "pending"}, headers=admin.headers
    )
    b = await browser(admin)
    response = await b.get(
        "/inbox/rows", htmx=True, view="open", ids=f"{stays['id']},{leaves['id']}"
    )
    assert row_ids(response.text) == [stays["id"]]
    counts = await b.get("/inbox/counts", htmx=True, view="open")
    assert count_of(counts.text, "pending") == 1


async def test_saved_views_personal_shared_and_their_counts(
    client: httpx.AsyncClient, browser: SignIn, people: People, admin: Actor
) -> None:
    await create_ticket(client, admin, tags=["refund"])
    agent = await browser(people.user("agent"))
    created = await agent.post(
        "/views", {"name": "Refunds", "tag": "refund", "status": ["new", "open"]}
    )
    view_url = created.headers["HX-Redirect"]
    page = await agent.get(view_url)
    assert "Refunds" in page.text and len(row_ids(page.text)) == 1
    refused = await agent.post("/views", {"name": "For all", "shared": "on", "tag": "refund"})
    assert refused.status_code == 403
    lead = await browser(people.user("supervisor"))
    shared = await lead.post("/views", {"name": "Team refunds", "shared": "on", "tag": "refund"})
    assert shared.status_code == 204
    seen = await agent.get("/inbox")
    assert "Team refunds" in seen.text and "Refunds" in seen.text
    other = await browser(people.user("agent"))
    assert "Refunds</span>" not in (await other.get("/inbox")).text.replace("Team refunds", "")
    view_id = view_url.rsplit("v", 1)[1]
    await agent.post(f"/views/{view_id}/delete")
    assert "Refunds<" not in (await agent.get("/inbox")).text.replace("Team refunds", "")


async def test_view_counts_stop_at_the_cap(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox_web, "COUNT_CAP", 2)
    for _ in range(3):
        await create_ticket(client, admin)
    b = await browser(admin)
    page = await b.get("/inbox?view=open")
    assert re.search(r'view=open"[^>]*>\s*<span>[^<]*</span><span class="count">2\+', page.text)
    assert len(row_ids(page.text)) == 3  # the list itself is not capped


async def test_a_stale_csrf_token_asks_for_a_reload(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    b = await browser(admin)
    b.csrf = "stale"
    response = await b.post("/inbox/bulk", {"ids": ["1"], "action": "status", "status": "open"})
    assert response.status_code == 403
    assert "This page is out of date" in response.text


async def test_the_list_partial_keeps_the_bulk_assign_choices(
    client: httpx.AsyncClient, browser: SignIn, people: People, admin: Actor
) -> None:
    people.user("agent", name="Zhao Ting")
    await create_ticket(client, admin)
    b = await browser(admin)
    partial = await b.get("/inbox", htmx=True, view="open", sort="-created_at")
    assert "Zhao Ting</option>" in partial.text
    assert 'id="views"' not in partial.text  # counts are not recomputed for a list refresh
