"""The profile: language and time zone applied to every page, password, personal tokens."""

from __future__ import annotations

import re

import httpx

from kefu.accounts import service as accounts
from kefu.accounts.schemas import UserUpdate
from tests.conftest import PASSWORD, Actor, People, create_ticket
from tests.web.conftest import SignIn, sign_in


async def test_language_and_time_zone_apply_to_pages_and_dates(
    client: httpx.AsyncClient, browser: SignIn, agent: Actor, admin: Actor
) -> None:
    ticket = await create_ticket(client, admin)
    b = await browser(agent)
    saved = await b.post(
        "/profile", {"name": "Li Na", "language": "zh_CN", "time_zone": "Asia/Shanghai"}
    )
    assert saved.headers["HX-Redirect"] == "/profile"
    inbox = await b.get("/inbox?view=open")
    assert "收件箱" in inbox.text and "所有未解决" in inbox.text and 'lang="zh-CN"' in inbox.text
    page = await b.get(f"/tickets/{ticket['id']}")
    assert "对话" in page.text
    # The test clock's 09:00 UTC is 17:00 in Shanghai.
    created = await client.get(f"/api/v1/tickets/{ticket['id']}", headers=admin.headers)
    hour = (int(created.json()["created_at"][11:13]) + 8) % 24
    assert f"{hour:02d}:" in page.text
    back = await b.post("/profile/language", {"language": "en", "next": "/customers"}, htmx=False)
    assert back.headers["location"] == "/customers"
    assert "Customers" in (await b.get("/customers")).text


async def test_unknown_language_or_zone_is_refused(browser: SignIn, agent: Actor) -> None:
    b = await browser(agent)
    assert (await b.post("/profile", {"language": "tlh"})).status_code == 422
    assert (await b.post("/profile", {"time_zone": "Moon/Base"})).status_code == 422


async def test_password_change_keeps_this_browser_and_ends_the_others(
    client: httpx.AsyncClient, browser: SignIn, agent: Actor
) -> None:
    here, elsewhere = await browser(agent), await browser(agent)
    wrong = await here.post(
        "/profile/password",
        {"current": "nope", "new": "a-new-password-1", "confirm": "a-new-password-1"},
    )
    assert wrong.status_code == 422 and "The current password is wrong." in wrong.text
    differ = await here.post(
        "/profile/password",
        {"current": PASSWORD, "new": "a-new-password-1", "confirm": "other-password"},
    )
    assert differ.status_code == 422
    done = await here.post(
        "/profile/password",
        {"current": PASSWORD, "new": "a-new-password-1", "confirm": "a-new-password-1"},
        htmx=False,
    )
    assert done.status_code == 303
    page = await here.get("/profile")
    assert page.status_code == 200 and "Password changed." in page.text
    assert (await elsewhere.get("/inbox")).status_code == 303
    old = await client.post("/login", data={"email": agent.email, "password": PASSWORD})
    assert old.status_code == 401


async def test_personal_tokens_are_shown_once_and_revoked(
    client: httpx.AsyncClient, browser: SignIn, agent: Actor
) -> None:
    b = await browser(agent)
    page = await b.post(
        "/profile/tokens",
        {"name": "Reports script", "scopes": ["tickets:read"], "expires_days": "30"},
        htmx=False,
    )
    token = re.search(r'<code id="new-token">([^<]+)</code>', page.text)
    assert token is not None
    headers = {"Authorization": f"Bearer {token.group(1)}"}
    assert (await client.get("/api/v1/tickets", headers=headers)).status_code == 200
    assert (await client.post("/api/v1/tickets", json={}, headers=headers)).status_code == 403
    listed = await b.get("/profile")
    assert "Reports script" in listed.text and token.group(1) not in listed.text
    row = listed.text[listed.text.index("Reports script") :]
    token_id = re.search(r"/profile/tokens/(\d+)/revoke", row)
    assert token_id is not None
    revoked = await b.post(f"/profile/tokens/{token_id.group(1)}/revoke")
    assert revoked.headers["HX-Redirect"] == "/profile"
    assert (await client.get("/api/v1/tickets", headers=headers)).status_code == 401


async def test_a_chinese_user_signs_in_to_a_chinese_inbox(
    client: httpx.AsyncClient, people: People
) -> None:
    user = people.user("agent")
    principal = people.runtime.db.run_read(accounts.principal_for_user, user.id)
    people.runtime.db.run_write(
        accounts.update_user, principal, user.id, UserUpdate(language="zh_CN")
    )
    b = await sign_in(client, user)
    assert "我的工单" in (await b.get("/inbox")).text
