"""The admin console: who gets in, and each section's changes reaching the workspace."""

from __future__ import annotations

import re

import httpx

from tests.conftest import PASSWORD, Actor, People, create_ticket
from tests.web.conftest import SignIn, sign_in

SECTIONS = ("users", "teams", "fields", "tags", "canned", "settings")


async def test_agents_are_refused_every_section(browser: SignIn, agent: Actor) -> None:
    b = await browser(agent)
    assert 'href="/admin"' not in (await b.get("/inbox")).text
    for path in ("/admin", *(f"/admin/{s}" for s in SECTIONS)):
        response = await b.get(path)
        assert response.status_code == 403, path
        assert "You do not have access to this." in response.text


async def test_supervisors_see_team_settings_but_not_users_or_settings(
    browser: SignIn, people: People
) -> None:
    b = await browser(people.user("supervisor"))
    console = await b.get("/admin")
    assert console.headers["location"] == "/admin/teams"
    page = await b.get("/admin/teams")
    assert all(f'href="/admin/{s}"' in page.text for s in ("teams", "fields", "tags", "canned"))
    assert 'href="/admin/users"' not in page.text and 'href="/admin/settings"' not in page.text
    assert (await b.get("/admin/users")).status_code == 403
    assert (await b.get("/admin/settings")).status_code == 403


async def test_admin_adds_a_user_who_can_sign_in(
    client: httpx.AsyncClient, browser: SignIn, people: People, admin: Actor
) -> None:
    team = people.team("Hardware")
    b = await browser(admin)
    form = {
        "email": "new.agent@example.com",
        "name": "New Agent",
        "password": PASSWORD,
        "role": "agent",
        "language": "zh_CN",
        "team_ids": [str(team)],
    }
    created = await b.post("/admin/users", form)
    assert created.headers["HX-Redirect"] == "/admin/users"
    listing = await b.get("/admin/users")
    assert "New Agent" in listing.text
    fresh = httpx.AsyncClient(transport=client._transport, base_url="http://kefu.test")
    newcomer = await sign_in(fresh, Actor(0, "new.agent@example.com", "agent", ""))
    assert "收件箱" in (await newcomer.get("/inbox")).text
    await fresh.aclose()
    duplicate = await b.post("/admin/users", form)
    assert duplicate.status_code == 409


async def test_admin_changes_a_role_and_deactivates(
    client: httpx.AsyncClient, browser: SignIn, people: People, admin: Actor
) -> None:
    someone = people.user("agent", name="Someone")
    b = await browser(admin)
    page = await b.get(f"/admin/users/{someone.id}")
    assert 'value="agent" selected' in page.text
    await b.post(
        f"/admin/users/{someone.id}", {"name": "Someone", "role": "supervisor", "is_active": "on"}
    )
    assert 'value="supervisor" selected' in (await b.get(f"/admin/users/{someone.id}")).text
    await b.post(f"/admin/users/{someone.id}", {"name": "Someone", "role": "supervisor"})
    assert "deactivated" in (await b.get("/admin/users")).text
    refused = await client.post("/login", data={"email": someone.email, "password": PASSWORD})
    assert refused.status_code == 401


async def test_teams_are_created_with_members_and_privacy(browser: SignIn, people: People) -> None:
    member = people.user("agent", name="Member One")
    b = await browser(people.user("supervisor"))
    await b.post(
        "/admin/teams",
        {"name": "After-sales 售后", "private": "on", "member_ids": [str(member.id)]},
    )
    page = await b.get("/admin/teams")
    assert "After-sales 售后" in page.text and "Member One" in page.text
    assert "Private: only members see its tickets" in page.text


async def test_a_new_field_definition_shows_on_the_ticket_form(
    client: httpx.AsyncClient, browser: SignIn, people: People, admin: Actor
) -> None:
    ticket = await create_ticket(client, admin)
    b = await browser(people.user("supervisor"))
    form = {
        "entity": "ticket",
        "key": "colour",
        "label": "Colour",
        "label_zh": "颜色",
        "type": "select",
        "options": "red = 红色\nblue = 蓝色",
    }
    assert (await b.post("/admin/fields", form)).status_code == 204
    side = await b.get(f"/tickets/{ticket['id']}/side", htmx=True)
    assert 'name="cf.colour"' in side.text and ">red</option>" in side.text
    fields = (await client.get("/api/v1/fields", headers=admin.headers)).json()
    colour = next(f for f in fields if f["key"] == "colour")
    assert colour["translations"] == {
        "zh_CN": "颜色",
        "options": {"zh_CN": {"red": "红色", "blue": "蓝色"}},
    }
    await b.post(
        f"/admin/fields/{colour['id']}",
        {"label": "Colour", "options": "red\nblue\ngreen", "active": "on"},
    )
    side = await b.get(f"/tickets/{ticket['id']}/side", htmx=True)
    assert ">green</option>" in side.text
    await b.post(
        f"/admin/fields/{colour['id']}", {"label": "Colour", "options": "red"}
    )  # not active
    assert 'name="cf.colour"' not in (await b.get(f"/tickets/{ticket['id']}/side", htmx=True)).text
    bad = await b.post("/admin/fields", {**form, "key": "Bad Key"})
    assert bad.status_code == 422 and "key" in bad.text


async def test_tags_are_counted_renamed_and_deleted(
    client: httpx.AsyncClient, browser: SignIn, admin: Actor
) -> None:
    one = await create_ticket(client, admin, tags=["refnud", "vip"])
    two = await create_ticket(client, admin, tags=["refnud", "refund"])
    b = await browser(admin)
    page = await b.get("/admin/tags")
    assert re.search(r"refnud</span></a></td>\s*<td class=\"num\">2<", page.text)
    await b.post("/admin/tags/rename", {"tag": "refnud", "new_tag": "refund"})
    tags = [
        (await client.get(f"/api/v1/tickets/{t['id']}", headers=admin.headers)).json()["tags"]
        for t in (one, two)
    ]
    assert tags == [["refund", "vip"], ["refund"]]
    await b.post("/admin/tags/delete", {"tag": "vip"})
    assert (await client.get(f"/api/v1/tickets/{one['id']}", headers=admin.headers)).json()[
        "tags"
    ] == ["refund"]
    missing = await b.post("/admin/tags/delete", {"tag": "nothing"})
    assert missing.status_code == 404


async def test_canned_replies_reject_unknown_placeholders(browser: SignIn, admin: Actor) -> None:
    b = await browser(admin)
    bad = await b.post("/admin/canned", {"title": "Oops", "body": "Dear {customer.nickname}"})
    assert bad.status_code == 422 and "customer.nickname" in bad.text
    good = await b.post(
        "/admin/canned", {"title": "Thanks", "body": "Thank you {customer.name}", "language": "en"}
    )
    assert good.status_code == 204
    page = await b.get("/admin/canned")
    reply_id = re.search(r'href="/admin/canned/(\d+)"', page.text)
    assert reply_id is not None
    await b.post(f"/admin/canned/{reply_id.group(1)}", {"title": "Thanks!", "body": "Thank you"})
    assert "Thanks!" in (await b.get("/admin/canned")).text
    await b.post(f"/admin/canned/{reply_id.group(1)}/delete")
    assert "Thanks!" not in (await b.get("/admin/canned")).text


async def test_general_settings_rename_the_organisation_everywhere(
    browser: SignIn, admin: Actor
) -> None:
    b = await browser(admin)
    form = {
        "organisation_name": "星辰客服",
        "default_language": "zh_CN",
        "default_time_zone": "Asia/Shanghai",
    }
    assert (await b.post("/admin/settings", form)).status_code == 204
    assert "星辰客服" in (await b.get("/inbox")).text
    signin = await httpx.AsyncClient(transport=b.http._transport, base_url="http://kefu.test").get(
        "/login"
    )
    assert "星辰客服" in signin.text and "登录" in signin.text  # the default language applies
    bad = await b.post("/admin/settings", {**form, "default_time_zone": "Mars/Olympus"})
    assert bad.status_code == 422
