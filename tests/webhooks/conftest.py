"""Webhook tests: a real HTTP receiver on loopback (ports 9110-9119) that records what it
gets and answers with the statuses a test asks for; time moves on a FrozenClock."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kefu.config import Settings
from kefu.kit.time import FrozenClock
from kefu.main import create_app
from kefu.outbox import tasks as outbox_tasks
from kefu.runtime import Runtime
from tests.conftest import Actor

PORTS = range(9110, 9120)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    port: int
    statuses: list[int] = field(default_factory=list)  # answers to give, then 200s
    received: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length).decode()
            headers = {k.lower(): v for k, v in self.headers.items()}
            receiver.received.append(Received(self.path, headers, body))
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    for port in PORTS:
        probe = Receiver(port)
        try:
            server = ThreadingHTTPServer(("127.0.0.1", port), _handler(probe))
        except OSError:
            continue
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield probe
        finally:
            server.shutdown()
            server.server_close()
        return
    pytest.fail("no free port in 9110-9119")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> FastAPI:
    settings.run_worker = False
    return create_app(settings, clock)


class Hooks:
    def __init__(self, client: httpx.AsyncClient, runtime: Runtime, admin: Actor) -> None:
        self.client, self.runtime, self.admin = client, runtime, admin

    async def endpoint(self, **body: Any) -> dict[str, Any]:
        body = {"name": "crm", "event_types": ["ticket.created"]} | body
        response = await self.client.post("/api/v1/webhooks", json=body, headers=self.admin.headers)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def deliver(self) -> None:
        await outbox_tasks.deliver_due(self.runtime)

    async def log(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.client.get(
            "/api/v1/webhooks/deliveries", params=params, headers=self.admin.headers
        )
        assert response.status_code == 200, response.text
        return list(response.json()["items"])


@pytest.fixture
def hooks(client: httpx.AsyncClient, runtime: Runtime, admin: Actor) -> Hooks:
    return Hooks(client, runtime, admin)
