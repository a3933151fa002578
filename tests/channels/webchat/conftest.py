"""Web chat tests run the real app under uvicorn on a free port and talk to it with a real
WebSocket client (``websockets``), as the widget and agents' consoles do."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import orjson
import pytest
import uvicorn
import websockets
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection

from kefu.channels import service as channels
from kefu.channels.delivery import secret_box
from kefu.channels.schemas import ChannelAccountCreate
from kefu.runtime import Runtime

IDENTITY_SECRET = "the-shop-signs-identities-with-this-secret"
WAIT_S = 10.0


@dataclass
class Live:
    url: str
    runtime: Runtime | None = None  # None: a server in another process

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/api/v1/webchat/ws"

    @property
    def agent_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/api/v1/webchat/agent"


def serve(app: FastAPI) -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture
def live(app: FastAPI, runtime: Runtime) -> Iterator[Live]:
    server, thread, url = serve(app)
    yield Live(url, runtime)
    server.should_exit = True
    thread.join(WAIT_S)


@pytest.fixture
async def http(live: Live) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.url, timeout=WAIT_S) as client:
        yield client


def make_account(runtime: Runtime, **config: Any) -> int:
    """A web chat channel account; ``config`` overrides its settings."""
    settings: dict[str, Any] = {"availability": "always", **config}
    created = runtime.db.run_write(
        channels.create_account,
        secret_box(runtime),
        ChannelAccountCreate(
            kind="webchat",
            name="Acme Support",
            config=settings,
            secrets={"identity_secret": IDENTITY_SECRET},
        ),
    )
    return created.id


@pytest.fixture
def account(runtime: Runtime) -> int:
    return make_account(runtime)


def identity_token(secret: str = IDENTITY_SECRET, ttl_s: float = 600, **claims: Any) -> str:
    body = {"sub": "u-42", "email": "Grace@Example.com", "name": "Grace Hopper"}
    body.update(claims)
    body["exp"] = int(time.time() + ttl_s)
    return jwt.encode(body, secret, algorithm="HS256")


class Peer:
    """One end of a chat socket: sends frames, waits for frames of a type."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []  # every frame received
        self.unclaimed: list[dict[str, Any]] = []  # received, not yet returned by expect()

    async def send(self, **frame: Any) -> None:
        await self.ws.send(orjson.dumps(frame).decode())

    async def next(self, timeout: float = WAIT_S) -> dict[str, Any]:
        frame: dict[str, Any] = orjson.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.seen.append(frame)
        self.unclaimed.append(frame)
        return frame

    async def expect(
        self, kind: str, where: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any]:
        """The first frame of this type (and matching ``where``) not yet claimed, waiting
        for it if it has not arrived."""
        deadline = time.monotonic() + WAIT_S
        while True:
            for frame in self.unclaimed:
                if frame["type"] == kind and (where is None or where(frame)):
                    self.unclaimed.remove(frame)
                    return frame
            await self.next(max(0.01, deadline - time.monotonic()))

    async def quiet(self, seconds: float = 0.5) -> list[dict[str, Any]]:
        """Every frame that arrives within ``seconds``."""
        try:
            while True:
                await self.next(seconds)
        except TimeoutError:
            got, self.unclaimed = self.unclaimed, []
            return got

    async def close(self) -> None:
        await self.ws.close()


class Visitor(Peer):
    """The widget's side: hello, then the conversation."""

    session: str | None = None
    conversation: str | None = None
    welcome: dict[str, Any]

    @classmethod
    async def connect(
        cls,
        live: Live,
        channel: int | str,
        *,
        session: str | None = None,
        since: int = 0,
        identity: str | None = None,
        lang: str = "en",
        origin: str | None = None,
    ) -> Visitor:
        headers = {"Origin": origin} if origin else None
        ws = await websockets.connect(live.ws_url, additional_headers=headers)
        visitor = cls(ws)
        visitor.session = session
        hello = {"channel": str(channel), "session": session, "since": since, "lang": lang}
        await visitor.send(type="hello", identity=identity, **hello)
        visitor.welcome = await visitor.expect("welcome")
        visitor.conversation = visitor.welcome["conversation"]
        return visitor

    async def say(self, text: str, client_id: str | None = None, **extra: Any) -> dict[str, Any]:
        """Send a message and return its ack (learning the session on the first one)."""
        cid = client_id or uuid.uuid4().hex
        await self.send(type="message", client_id=cid, text=text, **extra)
        ack = await self.expect("ack", lambda f: f["client_id"] == cid)
        for frame in self.seen:
            if frame["type"] == "session":
                self.session, self.conversation = frame["session"], frame["conversation"]
        return ack


async def agent_socket(live: Live, token: str, scope: str = "all") -> Peer:
    ws = await websockets.connect(
        f"{live.agent_url}?scope={scope}", additional_headers={"Authorization": f"Bearer {token}"}
    )
    return Peer(ws)


async def wait_until(check: Callable[[], Any], timeout: float = WAIT_S) -> Any:
    """Poll an async or sync check until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.05)
