"""SLA tests drive time with a FrozenClock and run the sweep by hand (no background loop)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kefu.config import Settings
from kefu.events import Event
from kefu.kit.time import FrozenClock
from kefu.main import create_app
from kefu.runtime import Runtime
from tests.conftest import Actor, People

# Monday 2026-01-05 09:00 in Shanghai.
MONDAY_9AM_SHANGHAI = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(MONDAY_9AM_SHANGHAI)


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> FastAPI:
    settings.run_worker = False
    return create_app(settings, clock)


@pytest.fixture
def supervisor(people: People) -> Actor:
    return people.user("supervisor")


@pytest.fixture
def events(runtime: Runtime) -> list[Event]:
    seen: list[Event] = []
    runtime.bus.subscribe("sla.*", seen.append)
    return seen


class Sla:
    """Calendars, policies and tickets through the real API."""

    def __init__(self, client: httpx.AsyncClient, runtime: Runtime, lead: Actor) -> None:
        self.client, self.runtime, self.lead = client, runtime, lead

    async def calendar(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": "Shanghai office",
            "time_zone": "Asia/Shanghai",
            "week": {
                d: ["09:00-12:00", "13:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")
            },
        } | overrides
        response = await self.client.post("/api/v1/calendars", json=body, headers=self.lead.headers)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def policy(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": "Default",
            "targets": {"first_response": "1h", "next_response": "2h", "resolution": "8h"},
        } | overrides
        response = await self.client.post(
            "/api/v1/sla-policies", json=body, headers=self.lead.headers
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def ticket(self, actor: Actor, **overrides: Any) -> dict[str, Any]:
        from tests.conftest import ticket_body

        response = await self.client.post(
            "/api/v1/tickets", json=ticket_body(**overrides), headers=actor.headers
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def clocks(self, actor: Actor, ticket_id: int) -> dict[str, dict[str, Any]]:
        response = await self.client.get(f"/api/v1/tickets/{ticket_id}", headers=actor.headers)
        assert response.status_code == 200, response.text
        return {c["metric"]: c for c in response.json()["sla"]}

    async def patch(self, actor: Actor, ticket_id: int, **changes: Any) -> dict[str, Any]:
        response = await self.client.patch(
            f"/api/v1/tickets/{ticket_id}", json=changes, headers=actor.headers
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def message(self, actor: Actor, ticket_id: int, **body: Any) -> None:
        body = {"body": "hello"} | body
        response = await self.client.post(
            f"/api/v1/tickets/{ticket_id}/messages", json=body, headers=actor.headers
        )
        assert response.status_code == 201, response.text

    async def sweep(self) -> None:
        assert await self.runtime.scheduler.run_once("sla.sweep")

    async def reapply(self) -> None:
        assert await self.runtime.scheduler.run_once("outbox.deliver")


@pytest.fixture
async def sla(client: httpx.AsyncClient, runtime: Runtime, supervisor: Actor) -> AsyncIterator[Sla]:
    yield Sla(client, runtime, supervisor)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


Pick = Callable[[list[Event], str], list[Event]]


def named(events: list[Event], name: str) -> list[Event]:
    return [e for e in events if e.name == name]
