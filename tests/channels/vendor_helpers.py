"""Shared by the messaging-channel tests: accounts made through the API, the vendor's HTTP
API replayed by an ``httpx.MockTransport`` that records every request kefu makes, and the
outbox run by hand."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from kefu.channels.base import adapter_for
from kefu.outbox import tasks as outbox_tasks
from kefu.runtime import Runtime
from tests.conftest import Actor

Route = Callable[[httpx.Request], httpx.Response]


def fixture(channel: str, name: str) -> bytes:
    return (Path(__file__).parent / channel / "fixtures" / name).read_bytes()


def fixture_json(channel: str, name: str) -> Any:
    return json.loads(fixture(channel, name))


async def make_account(
    client: httpx.AsyncClient,
    admin: Actor,
    kind: str,
    *,
    config: dict[str, Any] | None = None,
    secrets: dict[str, str] | None = None,
    address: str = "",
    team_id: int | None = None,
) -> dict[str, Any]:
    body = {
        "kind": kind,
        "name": f"{kind} test",
        "address": address,
        "config": config or {},
        "secrets": secrets or {},
        "team_id": team_id,
    }
    response = await client.post("/api/v1/channel-accounts", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    account: dict[str, Any] = response.json()
    return account


@dataclass
class Vendor:
    """Answers each request with the first route whose (method, URL prefix) matches."""

    routes: list[tuple[str, str, Route]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, url_prefix: str, route: Route | httpx.Response) -> None:
        handler = route if callable(route) else (lambda _r, resp=route: resp)
        self.routes.insert(0, (method, url_prefix, handler))

    def handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        for method, prefix, route in self.routes:
            if request.method == method and str(request.url).startswith(prefix):
                return route(request)
        return httpx.Response(599, json={"error": f"no route for {request.url}"})

    def sent(self, method: str, url_prefix: str) -> list[httpx.Request]:
        return [
            r for r in self.requests if r.method == method and str(r.url).startswith(url_prefix)
        ]


@contextmanager
def vendor_api(channel: str) -> Iterator[Vendor]:
    """The vendor's API, as seen by the registered adapter of ``channel``."""
    vendor = Vendor()
    adapter = adapter_for(channel)
    assert adapter is not None
    kind = type(adapter)
    original = kind.transport  # type: ignore[attr-defined]
    kind.transport = httpx.MockTransport(vendor.handle)  # type: ignore[attr-defined]
    try:
        yield vendor
    finally:
        kind.transport = original  # type: ignore[attr-defined]


async def run_outbox(runtime: Runtime) -> None:
    await outbox_tasks.deliver_due(runtime)


async def messages(client: httpx.AsyncClient, actor: Actor, ticket_id: int) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/tickets/{ticket_id}/messages", headers=actor.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def tickets_of(client: httpx.AsyncClient, actor: Actor, channel: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/tickets?channel={channel}", headers=actor.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# A 1×1 PNG and the smallest JPEG header filetype recognises: real image bytes for uploads.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")


async def upload(
    client: httpx.AsyncClient, actor: Actor, name: str, ctype: str, data: bytes
) -> int:
    files = {"file": (name, data, ctype)}
    response = await client.post("/api/v1/attachments", files=files, headers=actor.headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def reply(
    client: httpx.AsyncClient, actor: Actor, ticket_id: int, text: str, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/tickets/{ticket_id}/messages", json={"body": text, **extra}, headers=actor.headers
    )
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()
    return message


async def message_by_id(
    client: httpx.AsyncClient, actor: Actor, ticket_id: int, message_id: int
) -> dict[str, Any]:
    """One message of the ticket as the API shows it now (its delivery status, error)."""
    return {m["id"]: m for m in await messages(client, actor, ticket_id)}[message_id]
