"""Two kefu processes sharing the database and Redis: a visitor connected to one gets the
reply an agent sent through the other (the event bus fans out over Redis)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from kefu.config import Settings
from tests.channels.webchat.conftest import Live, Visitor, agent_socket
from tests.channels.webchat.test_protocol import reply
from tests.conftest import Actor

REDIS_URL = os.environ.get("KEFU_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(settings: Settings, worker: bool, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "KEFU_DATA_DIR": str(settings.data_dir),
        "KEFU_DATABASE_URL": settings.resolved_database_url(),
        "KEFU_REDIS_URL": REDIS_URL,
        "KEFU_SECRET_KEY": settings.secret_key,
        "KEFU_RUN_WORKER": "true" if worker else "false",
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "kefu.main:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"kefu did not start: {log.read_text()}")


@pytest.fixture
def two_processes(settings: Settings, tmp_path: Path) -> Iterator[tuple[Live, Live]]:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    # A only serves sockets; B runs the outbox worker, so replies are sent from B.
    a, url_a = start(settings, worker=False, log=tmp_path / "a.log")
    b, url_b = start(settings, worker=True, log=tmp_path / "b.log")
    try:
        yield Live(url_a), Live(url_b)
    finally:
        for process in (a, b):
            process.terminate()
            process.wait(10)


async def test_a_reply_sent_through_one_process_reaches_a_socket_on_another(
    two_processes: tuple[Live, Live], account: int, agent: Actor
) -> None:
    a, b = two_processes
    visitor = await Visitor.connect(a, account)
    ack = await visitor.say("hello from process A")
    desk = await agent_socket(b, agent.token)
    await desk.send(type="watch", ticket_ids=[ack["ticket_id"]])
    await desk.expect("watching")
    await visitor.send(type="typing", on=True)
    assert (await desk.expect("typing"))["from"] == "customer"
    async with httpx.AsyncClient(base_url=b.url) as http_b:
        await reply(http_b, agent, ack["ticket_id"], "answered on process B")
    frame = await visitor.expect("message", lambda f: f["from"] == "agent")
    assert frame["text"] == "answered on process B" and frame["seq"] == 2
    await desk.send(type="typing", ticket_id=ack["ticket_id"], on=True)
    assert (await visitor.expect("typing"))["on"] is True
    await visitor.close()
    await desk.close()
