"""A real kefu server (uvicorn in a thread, its own data dir and database) and Debian's
chromium driven by Playwright. Screenshots of the main pages go to tests/artifacts/."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from kefu.accounts import service as accounts
from kefu.accounts.schemas import TeamCreate, UserCreate
from kefu.config import Settings
from kefu.main import create_app
from kefu.runtime import Runtime
from kefu.security.permissions import Principal
from kefu.tickets import service as tickets
from kefu.tickets.schemas import RequesterIn, TicketCreate
from tests.conftest import PASSWORD, _fresh_database

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    runtime: Runtime


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, database_template: str) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("browser-data")
    settings = Settings(
        data_dir=data_dir,
        database_url=_fresh_database(database_template, data_dir),
        secret_key="browser-test",
        token_cache_s=0.0,
    )
    app = create_app(settings)
    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, name="kefu-browser-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started, "the kefu server did not start"
    yield Server(f"http://127.0.0.1:{port}", app.state.runtime)
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def contexts(chromium: Browser) -> Iterator[list[BrowserContext]]:
    """Open browser windows of a test (each its own cookies); closed afterwards."""
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        context.close()


@dataclass
class Person:
    id: int
    email: str
    name: str


class World:
    """People and tickets made through the real services of the running server."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.admin = self.person("admin", "Admin")

    def person(self, role: str, name: str, teams: list[int] | None = None, **extra: str) -> Person:
        email = f"{role}-{uuid.uuid4().hex[:6]}@example.com"
        data = UserCreate(
            email=email, name=name, role=role, password=PASSWORD, team_ids=teams or [], **extra
        )  # type: ignore[arg-type]
        user = self.runtime.db.run_write(accounts.create_user, data)
        return Person(user.id, email, name)

    def team(self, name: str, members: list[int]) -> int:
        return self.runtime.db.run_write(
            accounts.create_team, TeamCreate(name=name, member_ids=members)
        ).id

    def principal(self, person: Person) -> Principal:
        return self.runtime.db.run_read(accounts.principal_for_user, person.id)

    def ticket(self, subject: str, body: str, email: str, name: str, **extra: object) -> int:
        data = TicketCreate(
            subject=subject, body=body, requester=RequesterIn(email=email, name=name), **extra
        )  # type: ignore[arg-type]
        return self.runtime.db.run_write(tickets.create_ticket, self.principal(self.admin), data).id


def open_signed_in(
    contexts: list[BrowserContext],
    chromium: Browser,
    server: Server,
    person: Person,
    *,
    width: int = 1440,
    height: int = 900,
) -> Page:
    context = chromium.new_context(viewport={"width": width, "height": height}, locale="en-US")
    context.set_default_timeout(10_000)
    contexts.append(context)
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.fill("#email", person.email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/inbox")
    return page


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
