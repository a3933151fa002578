"""Errors are RFC 9457 problem details with the right status, whatever went wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from kefu.config import Settings
from tests.conftest import Actor, ticket_body

PROBLEM = "application/problem+json"


async def test_malformed_json_is_400(client: httpx.AsyncClient, agent: Actor) -> None:
    response = await client.post(
        "/api/v1/tickets",
        content=b'{"subject": "unterminated',
        headers={**agent.headers, "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert (problem["status"], problem["title"]) == (400, "Malformed JSON")
    assert problem["errors"][0]["type"] == "json_invalid"


async def test_validation_errors_name_each_field(client: httpx.AsyncClient, agent: Actor) -> None:
    response = await client.post(
        "/api/v1/tickets", json={"priority": "meh", "requester": {}}, headers=agent.headers
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "about:blank"
    locs = [e["loc"] for e in problem["errors"]]
    assert ["body", "subject"] in locs
    assert ["body", "priority"] in locs
    assert ["body", "requester"] in locs
    assert all(e["msg"] for e in problem["errors"])


async def test_oversized_json_is_413(
    client: httpx.AsyncClient, agent: Actor, settings: Settings
) -> None:
    big = ticket_body(body="x" * settings.max_body_bytes)
    response = await client.post("/api/v1/tickets", json=big, headers=agent.headers)
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 413
    listed = await client.get("/api/v1/tickets", headers=agent.headers)
    assert listed.json()["items"] == []


async def test_oversized_streamed_json_is_413(
    client: httpx.AsyncClient, agent: Actor, settings: Settings
) -> None:
    """A chunked body has no Content-Length to check up front; it is counted as it comes."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"subject": "s", "requester": {"email": "a@example.com"}, "body": "'
        for _ in range(settings.max_body_bytes // 10_000 + 1):
            yield b"y" * 10_000
        yield b'"}'

    response = await client.post(
        "/api/v1/tickets",
        content=chunks(),
        headers={**agent.headers, "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


async def test_a_body_just_under_the_limit_is_fine(client: httpx.AsyncClient, agent: Actor) -> None:
    response = await client.post(
        "/api/v1/tickets", json=ticket_body(body="z" * 150_000), headers=agent.headers
    )
    assert response.status_code == 201


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v2/tickets", "/api/v1/tickets/1/x"])
async def test_unknown_route_is_404_problem(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["title"] == "Not found"


async def test_wrong_method_is_405_problem(client: httpx.AsyncClient, agent: Actor) -> None:
    response = await client.put("/api/v1/tickets", headers=agent.headers)
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/tickets/{n}",
        "/api/v1/tickets/{n}/messages",
        "/api/v1/customers/{n}",
        "/api/v1/companies/{n}",
        "/api/v1/users/{n}",
        "/api/v1/teams/{n}",
        "/api/v1/fields/{n}",
        "/api/v1/attachments/{n}",
        "/api/v1/tickets?requester_id={n}",
        "/api/v1/tickets?team_id={n}",
        "/api/v1/tickets?assignee_id={n}",
    ],
)
async def test_huge_numbers_are_bad_input_not_server_errors(
    client: httpx.AsyncClient, admin: Actor, path: str
) -> None:
    response = await client.get(path.format(n=2**70), headers=admin.headers)
    assert response.status_code in (404, 422), response.text
    assert response.headers["content-type"] == PROBLEM


async def test_huge_numbers_in_a_body_are_422(client: httpx.AsyncClient, admin: Actor) -> None:
    for override in (
        {"assignee_id": 2**70},
        {"requester": {"id": 2**64}},
        {"follower_ids": [2**66]},
    ):
        response = await client.post(
            "/api/v1/tickets", json=ticket_body(**override), headers=admin.headers
        )
        assert response.status_code == 422, (override, response.text)
    listed = await client.get("/api/v1/tickets", headers=admin.headers)
    assert listed.json()["items"] == []


async def test_health(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "kefu"
