"""Users, teams, API tokens, browser sign-in with CSRF, and login throttling."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kefu.config import Settings
from kefu.kit.time import FrozenClock
from kefu.main import create_app
from tests.conftest import PASSWORD, Actor, People

API = "/api/v1"


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> FastAPI:
    return create_app(settings, clock)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post(f"{API}/auth/login", json={"email": email, "password": password})


# -- users ---------------------------------------------------------------------------------
async def test_admin_manages_users(client: httpx.AsyncClient, admin: Actor, people: People) -> None:
    team = people.team()
    made = await client.post(
        f"{API}/users",
        json={
            "email": "New.Agent@Example.com",
            "name": "New Agent",
            "role": "agent",
            "password": "long-enough-pw",
            "language": "zh-CN",
            "time_zone": "Asia/Shanghai",
            "team_ids": [team],
        },
        headers=admin.headers,
    )
    assert made.status_code == 201, made.text
    user = made.json()
    assert (user["email"], user["language"], user["team_ids"]) == (
        "new.agent@example.com",
        "zh_CN",
        [team],
    )
    assert "password" not in user and "password_hash" not in user
    dup = await client.post(
        f"{API}/users",
        json={"email": "new.agent@example.com", "name": "x"},
        headers=admin.headers,
    )
    assert dup.status_code == 409
    listed = await client.get(f"{API}/users", headers=admin.headers)
    assert user["id"] in [u["id"] for u in listed.json()]
    changed = await client.patch(
        f"{API}/users/{user['id']}",
        json={"role": "supervisor", "team_ids": [], "is_active": False},
        headers=admin.headers,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["role"], changed.json()["team_ids"], changed.json()["is_active"]) == (
        "supervisor",
        [],
        False,
    )
    assert (await login(client, "new.agent@example.com", "long-enough-pw")).status_code == 401
    got = await client.get(f"{API}/users/{user['id']}", headers=admin.headers)
    assert got.json()["role"] == "supervisor"
    assert (await client.get(f"{API}/users/999999", headers=admin.headers)).status_code == 404


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"email": "x", "name": "x"}, ["body", "email"]),
        ({"email": "a@example.com", "name": ""}, ["body", "name"]),
        ({"email": "a@example.com", "name": "a", "role": "boss"}, ["body", "role"]),
        ({"email": "a@example.com", "name": "a", "password": "short"}, ["body", "password"]),
        ({"email": "a@example.com", "name": "a", "language": "fr"}, ["body", "language"]),
        ({"email": "a@example.com", "name": "a", "time_zone": "Nowhere"}, ["body", "time_zone"]),
        ({"email": "a@example.com", "name": "a", "team_ids": [999]}, ["body", "team_ids"]),
    ],
)
async def test_bad_users_are_422(
    client: httpx.AsyncClient, admin: Actor, body: dict[str, Any], loc: list[Any]
) -> None:
    response = await client.post(f"{API}/users", json=body, headers=admin.headers)
    assert response.status_code == 422, response.text
    assert loc in [e["loc"] for e in response.json()["errors"]]


async def test_users_update_themselves_but_nothing_more(
    client: httpx.AsyncClient, agent: Actor, people: People
) -> None:
    mine = await client.patch(
        f"{API}/users/{agent.id}",
        json={
            "name": "Me",
            "language": "zh_CN",
            "time_zone": "Europe/Berlin",
            "password": "a-new-password",
        },
        headers=agent.headers,
    )
    assert mine.status_code == 200, mine.text
    assert (mine.json()["name"], mine.json()["language"], mine.json()["time_zone"]) == (
        "Me",
        "zh_CN",
        "Europe/Berlin",
    )
    assert (await login(client, agent.email, PASSWORD)).status_code == 401
    assert (await login(client, agent.email, "a-new-password")).status_code == 200
    for body in ({"role": "admin"}, {"is_active": False}, {"team_ids": [people.team()]}):
        refused = await client.patch(f"{API}/users/{agent.id}", json=body, headers=agent.headers)
        assert refused.status_code == 403, body
    other = people.user("agent")
    refused = await client.patch(
        f"{API}/users/{other.id}", json={"name": "x"}, headers=agent.headers
    )
    assert refused.status_code == 403
    me = await client.get(f"{API}/auth/me", headers=agent.headers)
    assert (me.json()["role"], me.json()["name"]) == ("agent", "Me")


async def test_a_narrow_token_cannot_change_its_user(
    client: httpx.AsyncClient, people: People
) -> None:
    reader = people.user("agent", scopes=["tickets:read"])
    refused = await client.patch(
        f"{API}/users/{reader.id}", json={"password": "stolen-token-pw"}, headers=reader.headers
    )
    assert refused.status_code == 403
    assert (await login(client, reader.email, "stolen-token-pw")).status_code == 401


async def test_the_last_admin_stays(
    client: httpx.AsyncClient, admin: Actor, people: People
) -> None:
    for body in ({"role": "agent"}, {"is_active": False}):
        refused = await client.patch(f"{API}/users/{admin.id}", json=body, headers=admin.headers)
        assert refused.status_code == 409, body
    second = people.user("admin")
    demoted = await client.patch(
        f"{API}/users/{admin.id}", json={"role": "agent"}, headers=second.headers
    )
    assert demoted.status_code == 200
    last = await client.patch(
        f"{API}/users/{second.id}", json={"is_active": False}, headers=second.headers
    )
    assert last.status_code == 409


# -- teams ---------------------------------------------------------------------------------
async def test_teams_with_members(client: httpx.AsyncClient, admin: Actor, people: People) -> None:
    a, b = people.user("agent"), people.user("agent")
    lead = people.user("supervisor")
    made = await client.post(
        f"{API}/teams",
        json={
            "name": "Billing",
            "description": "money",
            "private": True,
            "member_ids": [b.id, a.id],
        },
        headers=lead.headers,
    )
    assert made.status_code == 201, made.text
    team = made.json()
    assert (team["member_ids"], team["private"]) == (sorted([a.id, b.id]), True)
    assert (
        await client.post(f"{API}/teams", json={"name": "Billing"}, headers=lead.headers)
    ).status_code == 409
    bad = await client.post(
        f"{API}/teams", json={"name": "X", "member_ids": [999_999]}, headers=lead.headers
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["body", "member_ids"]
    assert (
        await client.post(f"{API}/teams", json={"name": "Y"}, headers=a.headers)
    ).status_code == 403
    user_a = (await client.get(f"{API}/users/{a.id}", headers=admin.headers)).json()
    assert user_a["team_ids"] == [team["id"]]
    changed = await client.patch(
        f"{API}/teams/{team['id']}",
        json={"member_ids": [b.id], "private": False, "name": "Finance"},
        headers=lead.headers,
    )
    assert (changed.json()["member_ids"], changed.json()["private"], changed.json()["name"]) == (
        [b.id],
        False,
        "Finance",
    )
    listed = await client.get(f"{API}/teams", headers=a.headers)
    assert [t["name"] for t in listed.json()] == ["Finance"]
    got = await client.get(f"{API}/teams/{team['id']}", headers=a.headers)
    assert got.json()["member_ids"] == [b.id]
    assert (
        await client.delete(f"{API}/teams/{team['id']}", headers=lead.headers)
    ).status_code == 204
    assert (await client.get(f"{API}/teams/{team['id']}", headers=a.headers)).status_code == 404
    user_b = (await client.get(f"{API}/users/{b.id}", headers=admin.headers)).json()
    assert user_b["team_ids"] == []


async def test_deleting_a_team_keeps_its_tickets(
    client: httpx.AsyncClient, admin: Actor, people: People
) -> None:
    team = people.team()
    from tests.conftest import create_ticket

    ticket = await create_ticket(client, admin, team_id=team)
    assert (await client.delete(f"{API}/teams/{team}", headers=admin.headers)).status_code == 204
    after = await client.get(f"{API}/tickets/{ticket['id']}", headers=admin.headers)
    assert after.json()["team"] is None


# -- tokens --------------------------------------------------------------------------------
async def test_tokens_are_created_listed_and_revoked(
    client: httpx.AsyncClient, agent: Actor, admin: Actor
) -> None:
    made = await client.post(
        f"{API}/tokens", json={"name": "zapier", "scopes": ["tickets:read"]}, headers=agent.headers
    )
    assert made.status_code == 201, made.text
    token = made.json()
    assert token["token"].startswith(token["prefix"])
    assert token["user_id"] == agent.id
    mine = await client.get(f"{API}/tokens", headers=agent.headers)
    assert "token" not in mine.json()[0]
    assert token["id"] in [t["id"] for t in mine.json()]
    assert (
        await client.get(f"{API}/tokens", params={"all_users": True}, headers=agent.headers)
    ).status_code == 403
    everyone = await client.get(f"{API}/tokens", params={"all_users": True}, headers=admin.headers)
    assert {t["user_id"] for t in everyone.json()} >= {agent.id, admin.id}
    assert (await client.get(f"{API}/tickets", headers=bearer(token["token"]))).status_code == 200
    admins_token = next(t for t in everyone.json() if t["user_id"] == admin.id)
    assert (
        await client.delete(f"{API}/tokens/{admins_token['id']}", headers=agent.headers)
    ).status_code == 404
    revoked = await client.delete(f"{API}/tokens/{token['id']}", headers=agent.headers)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    after = await client.get(f"{API}/tickets", headers=bearer(token["token"]))
    assert after.status_code == 401
    assert after.headers["content-type"] == "application/problem+json"


async def test_scopes_narrow_what_a_token_may_do(client: httpx.AsyncClient, people: People) -> None:
    reader = people.user("supervisor", scopes=["tickets:read"])
    assert (await client.get(f"{API}/tickets", headers=reader.headers)).status_code == 200
    write = await client.post(
        f"{API}/tickets",
        json={"subject": "s", "requester": {"email": "a@example.com"}},
        headers=reader.headers,
    )
    assert write.status_code == 403
    assert "tickets:write" in write.json()["detail"]
    assert (await client.get(f"{API}/customers", headers=reader.headers)).status_code == 403
    assert (await client.get(f"{API}/teams", headers=reader.headers)).status_code == 403


async def test_a_token_cannot_mint_a_wider_one(client: httpx.AsyncClient, people: People) -> None:
    narrow = people.user("agent", scopes=["admin:write"])
    wider = await client.post(f"{API}/tokens", json={"scopes": []}, headers=narrow.headers)
    assert wider.status_code == 403
    other = await client.post(
        f"{API}/tokens", json={"scopes": ["tickets:write"]}, headers=narrow.headers
    )
    assert other.status_code == 403
    same = await client.post(
        f"{API}/tokens", json={"scopes": ["admin:write"]}, headers=narrow.headers
    )
    assert same.status_code == 201


async def test_expired_tokens_are_refused(
    client: httpx.AsyncClient, agent: Actor, clock: FrozenClock
) -> None:
    expires = (clock.now() + timedelta(hours=1)).isoformat()
    made = await client.post(f"{API}/tokens", json={"expires_at": expires}, headers=agent.headers)
    assert made.status_code == 201, made.text
    raw = made.json()["token"]
    assert (await client.get(f"{API}/auth/me", headers=bearer(raw))).status_code == 200
    clock.advance(hours=1)
    expired = await client.get(f"{API}/auth/me", headers=bearer(raw))
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"scopes": ["tickets:everything"]}, ["body", "scopes"]),
        ({"expires_at": "2000-01-01T00:00:00Z"}, ["body", "expires_at"]),
        ({"expires_at": "2000-01-01T00:00:00"}, ["body", "expires_at"]),
        ({"expires_at": "soon"}, ["body", "expires_at"]),
    ],
)
async def test_bad_tokens_are_422(
    client: httpx.AsyncClient, agent: Actor, body: dict[str, Any], loc: list[Any]
) -> None:
    response = await client.post(f"{API}/tokens", json=body, headers=agent.headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == loc


async def test_a_naive_expiry_is_utc(
    client: httpx.AsyncClient, agent: Actor, clock: FrozenClock
) -> None:
    naive = (clock.now() + timedelta(days=1)).replace(tzinfo=None).isoformat()
    made = await client.post(f"{API}/tokens", json={"expires_at": naive}, headers=agent.headers)
    assert made.status_code == 201, made.text
    assert made.json()["expires_at"].startswith(naive)


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "Bearer kefu_not-a-real-token"]
)
async def test_bad_credentials_are_401(client: httpx.AsyncClient, header: str) -> None:
    response = await client.get(f"{API}/tickets", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_deactivated_user_s_token_stops_working(
    client: httpx.AsyncClient, admin: Actor, agent: Actor
) -> None:
    assert (await client.get(f"{API}/tickets", headers=agent.headers)).status_code == 200
    await client.patch(f"{API}/users/{agent.id}", json={"is_active": False}, headers=admin.headers)
    assert (await client.get(f"{API}/tickets", headers=agent.headers)).status_code == 401


# -- browser sign-in -----------------------------------------------------------------------
async def test_login_sets_a_safe_cookie_and_csrf_guards_writes(
    client: httpx.AsyncClient, agent: Actor
) -> None:
    response = await login(client, agent.email.upper())
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("kefu_session=")
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Path=/" in cookie
    csrf = response.json()["csrf_token"]
    assert response.json()["user"]["id"] == agent.id
    assert (await client.get(f"{API}/auth/me")).json()["id"] == agent.id
    body = {"subject": "from the browser", "requester": {"email": "b@example.com"}}
    no_csrf = await client.post(f"{API}/tickets", json=body)
    assert no_csrf.status_code == 403
    assert "CSRF" in no_csrf.json()["detail"]
    wrong = await client.post(f"{API}/tickets", json=body, headers={"X-CSRF-Token": csrf + "x"})
    assert wrong.status_code == 403
    ok = await client.post(f"{API}/tickets", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201, ok.text
    listed = await client.get(f"{API}/tickets")
    assert [t["subject"] for t in listed.json()["items"]] == ["from the browser"]


async def test_logout_ends_the_session(client: httpx.AsyncClient, agent: Actor) -> None:
    csrf = (await login(client, agent.email)).json()["csrf_token"]
    session = client.cookies["kefu_session"]
    assert (await client.post(f"{API}/auth/logout")).status_code == 403
    out = await client.post(f"{API}/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert (
        'kefu_session=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    )
    client.cookies.set("kefu_session", session)
    replay = await client.get(f"{API}/auth/me")
    assert replay.status_code == 401


async def test_sessions_end_after_their_hours(
    client: httpx.AsyncClient, agent: Actor, clock: FrozenClock, settings: Settings
) -> None:
    await login(client, agent.email)
    clock.advance(hours=settings.session_hours, seconds=1)
    assert (await client.get(f"{API}/auth/me")).status_code == 401


async def test_a_password_change_ends_other_sessions(
    client: httpx.AsyncClient, agent: Actor
) -> None:
    await login(client, agent.email)
    session = client.cookies["kefu_session"]
    client.cookies.clear()
    await client.patch(
        f"{API}/users/{agent.id}", json={"password": "changed-password"}, headers=agent.headers
    )
    client.cookies.set("kefu_session", session)
    assert (await client.get(f"{API}/auth/me")).status_code == 401


async def test_wrong_logins_are_401(client: httpx.AsyncClient, agent: Actor) -> None:
    for email, password in ((agent.email, "wrong-password"), ("ghost@example.com", PASSWORD)):
        response = await login(client, email, password)
        assert response.status_code == 401
        assert "set-cookie" not in response.headers
    assert (await client.post(f"{API}/auth/login", json={"email": agent.email})).status_code == 422


async def test_login_throttling(
    client: httpx.AsyncClient, agent: Actor, clock: FrozenClock, settings: Settings
) -> None:
    for _ in range(settings.login_max_failures):
        assert (await login(client, agent.email, "wrong-password")).status_code == 401
    locked = await login(client, agent.email)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) == settings.login_lockout_s + 1
    assert locked.headers["content-type"] == "application/problem+json"
    clock.advance(seconds=settings.login_lockout_s - 1)
    assert (await login(client, agent.email)).status_code == 429
    clock.advance(seconds=2)
    assert (await login(client, agent.email, "wrong-again")).status_code == 401
    doubled = await login(client, agent.email)
    assert doubled.status_code == 429
    assert int(doubled.headers["retry-after"]) == 2 * settings.login_lockout_s + 1
    clock.advance(seconds=2 * settings.login_lockout_s + 1)
    assert (await login(client, agent.email)).status_code == 200
    for _ in range(settings.login_max_failures - 1):
        assert (await login(client, agent.email, "wrong-password")).status_code == 401
    assert (await login(client, agent.email)).status_code == 200, "a success resets the count"


async def test_csrf_token_may_come_as_a_form_field(client: httpx.AsyncClient, agent: Actor) -> None:
    csrf = (await login(client, agent.email)).json()["csrf_token"]
    forged = await client.post(f"{API}/auth/logout", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    out = await client.post(f"{API}/auth/logout", data={"csrf_token": csrf})
    assert out.status_code == 204


async def test_a_token_records_its_last_use(client: httpx.AsyncClient, agent: Actor) -> None:
    await client.get(f"{API}/tickets", headers=agent.headers)
    listed = await client.get(f"{API}/tokens", headers=agent.headers)
    assert all(t["last_used_at"] is not None for t in listed.json())


async def test_secure_cookies_when_served_over_https(
    settings: Settings, clock: FrozenClock, people: People
) -> None:
    from asgi_lifespan import LifespanManager

    app = create_app(settings.model_copy(update={"secure_cookies": True}), clock)
    async with LifespanManager(app):
        user = People(app.state.runtime).user("agent")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://kefu.test") as client:
            response = await login(client, user.email)
    assert "Secure" in response.headers["set-cookie"]


@pytest.fixture
def caching_app(settings: Settings, clock: FrozenClock) -> FastAPI:
    """Credentials trusted for a minute, as in production: changes must still apply at once."""
    return create_app(settings.model_copy(update={"token_cache_s": 60.0}), clock)


async def test_cached_credentials_follow_changes_at_once(caching_app: FastAPI) -> None:
    from asgi_lifespan import LifespanManager

    async with LifespanManager(caching_app):
        people = People(caching_app.state.runtime)
        admin, agent = people.user("admin"), people.user("agent")
        lead = people.user("supervisor")
        vault = people.team(private=True)
        transport = httpx.ASGITransport(app=caching_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kefu.test") as client:
            from tests.conftest import create_ticket

            secret = await create_ticket(client, lead, team_id=vault)
            url = f"{API}/tickets/{secret['id']}"
            assert (await client.get(url, headers=agent.headers)).status_code == 404
            joined = await client.patch(
                f"{API}/teams/{vault}", json={"member_ids": [agent.id]}, headers=lead.headers
            )
            assert joined.status_code == 200
            assert (await client.get(url, headers=agent.headers)).status_code == 200
            tokens = (await client.get(f"{API}/tokens", headers=agent.headers)).json()
            await client.delete(f"{API}/tokens/{tokens[0]['id']}", headers=agent.headers)
            assert (await client.get(url, headers=agent.headers)).status_code == 401
            demoted = await client.patch(
                f"{API}/users/{lead.id}", json={"role": "agent"}, headers=admin.headers
            )
            assert demoted.status_code == 200
            assert (await client.delete(url, headers=lead.headers)).status_code == 403
