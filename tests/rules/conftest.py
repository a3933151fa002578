"""Rules tests drive time with a FrozenClock and run the worker's tasks by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kefu.config import Settings
from kefu.kit.time import FrozenClock
from kefu.main import create_app
from kefu.rules import tasks as rules_tasks
from kefu.runtime import Runtime
from tests.browser.conftest import chromium, contexts, server  # noqa: F401 - a real browser
from tests.conftest import Actor, People, ticket_body
from tests.web.conftest import browser  # noqa: F401 - signed-in browsers for page tests

# Monday 2026-01-05 09:00 in Shanghai.
MONDAY_9AM_SHANGHAI = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


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


class Rules:
    """Rules, tickets and the worker, through the real API and tasks."""

    def __init__(self, client: httpx.AsyncClient, runtime: Runtime, lead: Actor) -> None:
        self.client, self.runtime, self.lead = client, runtime, lead

    async def rule(self, **body: Any) -> dict[str, Any]:
        response = await self.client.post("/api/v1/rules", json=body, headers=self.lead.headers)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def ticket(self, actor: Actor | None = None, **overrides: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/tickets", json=ticket_body(**overrides), headers=(actor or self.lead).headers
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def get(self, ticket_id: int) -> dict[str, Any]:
        response = await self.client.get(f"/api/v1/tickets/{ticket_id}", headers=self.lead.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def patch(self, ticket_id: int, **changes: Any) -> dict[str, Any]:
        response = await self.client.patch(
            f"/api/v1/tickets/{ticket_id}", json=changes, headers=self.lead.headers
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def history(self, ticket_id: int) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"/api/v1/tickets/{ticket_id}/history", headers=self.lead.headers
        )
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    async def messages(self, ticket_id: int) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"/api/v1/tickets/{ticket_id}/messages", headers=self.lead.headers
        )
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    async def run(self) -> None:
        """What the worker does when woken: run the rules on every queued event."""
        await rules_tasks.run_queued(self.runtime)

    async def automations(self) -> None:
        await rules_tasks.run_automations(self.runtime)

    async def calendar(self, name: str = "Shanghai office") -> dict[str, Any]:
        body = {
            "name": name,
            "time_zone": "Asia/Shanghai",
            "week": {d: ["09:00-12:00", "13:00-18:00"] for d in WEEKDAYS},
        }
        response = await self.client.post("/api/v1/calendars", json=body, headers=self.lead.headers)
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture
def rules(client: httpx.AsyncClient, runtime: Runtime, supervisor: Actor) -> Rules:
    return Rules(client, runtime, supervisor)


def fired(history: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in history if e["kind"] == "rule_fired" and e["new_value"] == name]
