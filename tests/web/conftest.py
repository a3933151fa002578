"""Signed-in browsers for page tests: each has its own cookie jar, signs in through the
real /login form, and sends the CSRF token the page gave it, as the browser would."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import PASSWORD, Actor

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@dataclass
class Browser:
    http: httpx.AsyncClient
    actor: Actor
    csrf: str = ""

    async def get(self, path: str, *, htmx: bool = False, **params: Any) -> httpx.Response:
        headers = {"HX-Request": "true"} if htmx else {}
        return await self.http.get(path, params=params or None, headers=headers)

    async def post(
        self, path: str, data: dict[str, Any] | None = None, *, htmx: bool = True, **kw: Any
    ) -> httpx.Response:
        """A form post as htmx sends it (CSRF header), or as a plain form (CSRF field)."""
        if htmx:
            headers = {"HX-Request": "true", "X-CSRF-Token": self.csrf}
            return await self.http.post(path, data=data or {}, headers=headers, **kw)
        return await self.http.post(path, data={**(data or {}), "csrf_token": self.csrf}, **kw)


async def sign_in(http: httpx.AsyncClient, actor: Actor) -> Browser:
    response = await http.post("/login", data={"email": actor.email, "password": PASSWORD})
    assert response.status_code == 303, response.text
    page = await http.get("/inbox")
    assert page.status_code == 200, page.text
    match = CSRF.search(page.text)
    assert match is not None
    return Browser(http, actor, match.group(1))


SignIn = Callable[[Actor], Awaitable[Browser]]


@pytest.fixture
async def browser(client: httpx.AsyncClient, app: FastAPI) -> AsyncIterator[SignIn]:
    """``await browser(actor)``: a signed-in browser of that user (the app is running)."""
    opened: list[httpx.AsyncClient] = []

    async def open_for(actor: Actor) -> Browser:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://kefu.test"
        )
        opened.append(http)
        return await sign_in(http, actor)

    yield open_for
    for http in opened:
        await http.aclose()
