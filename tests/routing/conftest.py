"""Routing fixtures: the app on a frozen clock with no background loop, so a test decides
when the dispatcher runs (``desk.dispatch()``) and moves time instead of sleeping."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kefu.config import Settings
from kefu.kit.time import FrozenClock
from kefu.main import create_app
from kefu.routing.engine import TASK_NAME
from kefu.runtime import Runtime
from tests.conftest import Actor, People, ticket_body


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"run_worker": False})


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> FastAPI:
    return create_app(settings, clock)


class Desk:
    """Drives routing through its HTTP API, as agents, supervisors and the CTI would."""

    def __init__(
        self, client: httpx.AsyncClient, runtime: Runtime, people: People, clock: FrozenClock
    ) -> None:
        self.client, self.runtime, self.people, self.clock = client, runtime, people, clock
        self.lead = people.user("supervisor")

    async def call(
        self, method: str, url: str, actor: Actor | None = None, expect: int = 200, **kw: Any
    ) -> Any:
        who = actor or self.lead
        response = await self.client.request(method, url, headers=who.headers, **kw)
        assert response.status_code == expect, (method, url, response.text)
        return response.json() if response.content else None

    async def queue(self, **fields: Any) -> dict[str, Any]:
        body = {"name": f"q{len(fields)}-{id(fields)}", **fields}
        result: dict[str, Any] = await self.call(
            "POST", "/api/v1/routing/queues", json=body, expect=201
        )
        return result

    async def agent(
        self,
        *,
        skills: dict[str, int] | None = None,
        languages: list[str] | None = None,
        teams: list[int] | None = None,
        available: bool = True,
        **seat: Any,
    ) -> Actor:
        actor = self.people.user("agent", teams=teams)
        body = {"skills": skills or {}, "languages": languages or ["en"], **seat}
        await self.call("PATCH", f"/api/v1/agents/{actor.id}/seat", json=body)
        if available:
            await self.state(actor, "available")
        return actor

    async def state(self, actor: Actor, state: str, reason: str | None = None) -> dict[str, Any]:
        body = {"state": state, "reason": reason}
        result: dict[str, Any] = await self.call("PUT", "/api/v1/agents/me/state", actor, json=body)
        return result

    async def seat(self, actor: Actor) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("GET", "/api/v1/agents/me", actor)
        return result

    async def enqueue(self, **body: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self.call(
            "POST", "/api/v1/routing/items", json=body, expect=201
        )
        return result

    async def item(self, item_id: int) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("GET", f"/api/v1/routing/items/{item_id}")
        return result

    async def offers(self, actor: Actor) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.call("GET", "/api/v1/routing/offers", actor)
        return result

    async def accept(self, actor: Actor, offer_id: int, expect: int = 200) -> Any:
        url = f"/api/v1/routing/offers/{offer_id}/accept"
        return await self.call("POST", url, actor, expect=expect)

    async def reject(self, actor: Actor, offer_id: int, expect: int = 200) -> Any:
        url = f"/api/v1/routing/offers/{offer_id}/reject"
        return await self.call("POST", url, actor, expect=expect)

    async def ticket(self, actor: Actor | None = None, **overrides: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self.call(
            "POST", "/api/v1/tickets", actor, json=ticket_body(**overrides), expect=201
        )
        await self.settle()
        return result

    async def settle(self) -> None:
        """Let event handlers started by earlier writes finish."""
        for _ in range(3):
            await asyncio.sleep(0)
            await self.runtime.bus.drain()

    async def dispatch(self, times: int = 1) -> None:
        for _ in range(times):
            await self.settle()
            assert await self.runtime.scheduler.run_once(TASK_NAME)
            await self.settle()

    async def later(self, seconds: float) -> None:
        self.clock.advance(seconds=seconds)
        await self.dispatch()


@pytest.fixture
async def desk(
    client: httpx.AsyncClient, runtime: Runtime, people: People, clock: FrozenClock
) -> Desk:
    return Desk(client, runtime, people, clock)
