"""Signing in and out through the pages: redirects, errors, throttling, the second step."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from kefu.accounts import second_factor
from kefu.db import Ctx
from tests.conftest import PASSWORD, Actor
from tests.web.conftest import SignIn


async def test_pages_send_strangers_to_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get("/inbox?view=open")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=" + quote("/inbox?view=open", safe="")
    htmx = await client.get("/tickets/1/side", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"].startswith("/login?next=")


async def test_sign_in_goes_where_it_was_asked(client: httpx.AsyncClient, agent: Actor) -> None:
    data = {"email": agent.email, "password": PASSWORD, "next": "/customers"}
    response = await client.post("/login", data=data)
    assert response.status_code == 303
    assert response.headers["location"] == "/customers"
    assert "httponly" in response.headers["set-cookie"].lower()
    assert (await client.get("/customers")).status_code == 200


async def test_sign_in_never_redirects_off_site(client: httpx.AsyncClient, agent: Actor) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        data = {"email": agent.email, "password": PASSWORD, "next": target}
        response = await client.post("/login", data=data)
        assert response.headers["location"] == "/inbox"


async def test_wrong_password_says_so_and_locks_after_repeats(
    client: httpx.AsyncClient, agent: Actor
) -> None:
    for _ in range(5):
        response = await client.post("/login", data={"email": agent.email, "password": "nope"})
        assert response.status_code == 401
        assert "The email or password is wrong." in response.text
    locked = await client.post("/login", data={"email": agent.email, "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.text


async def test_sign_in_page_speaks_the_browsers_language(client: httpx.AsyncClient) -> None:
    chinese = await client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "登录" in chinese.text
    english = await client.get("/login", headers={"Accept-Language": "en-GB"})
    assert "Sign in" in english.text and "登录" not in english.text


async def test_sign_out_ends_the_session_and_needs_the_csrf_token(
    browser: SignIn, agent: Actor
) -> None:
    b = await browser(agent)
    forged = await b.http.post("/logout", data={})
    assert forged.status_code == 403
    response = await b.post("/logout", htmx=False)
    assert response.status_code == 303
    assert (await b.http.get("/inbox")).status_code == 303


class CodeFactor:
    """A second factor for the test: enrolled for one user, accepts one code."""

    name = "test-code"
    prompt = "Code"

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id

    def enrolled(self, ctx: Ctx, user_id: int) -> bool:
        return user_id == self.user_id

    def verify(self, ctx: Ctx, user_id: int, code: str) -> bool:
        return code == "246810"


@pytest.fixture
def factor(agent: Actor) -> Iterator[CodeFactor]:
    installed = CodeFactor(agent.id)
    second_factor.register(installed)
    yield installed
    second_factor.unregister(installed.name)


async def test_an_enrolled_second_factor_is_asked_before_the_session_starts(
    client: httpx.AsyncClient, agent: Actor, factor: CodeFactor
) -> None:
    data = {"email": agent.email, "password": PASSWORD, "next": "/customers"}
    response = await client.post("/login", data=data)
    assert response.headers["location"].startswith("/login/verify")
    assert (await client.get("/inbox")).status_code == 303  # no session yet
    page = await client.get(response.headers["location"])
    assert 'autocomplete="one-time-code"' in page.text
    wrong = await client.post("/login/verify", data={"code": "000000", "next": "/customers"})
    assert wrong.status_code == 401
    right = await client.post("/login/verify", data={"code": "246810", "next": "/customers"})
    assert right.status_code == 303 and right.headers["location"] == "/customers"
    assert (await client.get("/customers")).status_code == 200


async def test_a_forged_second_step_cookie_is_refused(
    client: httpx.AsyncClient, agent: Actor, factor: CodeFactor
) -> None:
    client.cookies.set("kefu_pending", f"{agent.id}.9999999999.test-code.{'0' * 64}", path="/login")
    response = await client.post("/login/verify", data={"code": "246810"})
    assert response.headers["location"] == "/login"
