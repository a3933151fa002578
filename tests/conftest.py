"""Test fixtures: a fresh database per test (SQLite by default, PostgreSQL when
KEFU_TEST_DATABASE_URL is set), the real app over httpx, users with tokens."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from kefu import migrate
from kefu.accounts import service as accounts
from kefu.accounts.schemas import TeamCreate, TokenCreate, UserCreate
from kefu.config import Settings, get_settings
from kefu.db import make_engine, normalise_url
from kefu.kit import crypto
from kefu.kit.time import FrozenClock
from kefu.main import create_app
from kefu.models import metadata
from kefu.runtime import Runtime

PG_URL = os.environ.get("KEFU_TEST_DATABASE_URL", "")
PASSWORD = "correct-horse-battery"


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """argon2 at its lowest cost: the same code path in milliseconds instead of ~100 ms."""
    original = crypto._hasher
    crypto._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    crypto._hasher = original


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per session: a template SQLite file, or a PostgreSQL test database."""
    if PG_URL:
        return _create_pg_database()
    folder = tmp_path_factory.mktemp("template")
    url = f"sqlite:///{folder / 'kefu.db'}"
    engine = make_engine(url, Settings(data_dir=folder))
    migrate.upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return url


def _create_pg_database() -> str:
    url = make_url(normalise_url(PG_URL))
    name = f"kefu_test_{_worker()}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    test_url = url.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(test_url)
    migrate.upgrade(engine)
    engine.dispose()
    return test_url


def _fresh_database(template: str, data_dir: Path) -> str:
    if not template.startswith("sqlite"):
        # DELETE, children first, then every sequence back to 1: the same clean slate as
        # TRUNCATE ... RESTART IDENTITY, in milliseconds instead of a second for ~40 tables.
        engine = create_engine(template)
        names = ["ticket_search", *(t.name for t in reversed(metadata.sorted_tables))]
        sql = "; ".join(f'DELETE FROM "{name}"' for name in names)
        with engine.begin() as connection:
            connection.exec_driver_sql(sql)
            connection.exec_driver_sql(
                "SELECT setval(c.oid, 1, false) FROM pg_class c WHERE c.relkind = 'S'"
            )
        engine.dispose()
        return template
    source = Path(template.removeprefix("sqlite:///"))
    shutil.copyfile(source, data_dir / "kefu.db")
    return f"sqlite:///{data_dir / 'kefu.db'}"


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it: a new SQLite file, or a new PostgreSQL database."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    url = make_url(normalise_url(PG_URL))
    name = f"kefu_empty_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_template: str) -> Settings:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = _fresh_database(database_template, data_dir)
    return Settings(
        data_dir=data_dir,
        database_url=url,
        secret_key="test-secret",
        db_readers=2,
        db_writers=1,  # one writer forms the batches tests hold and inspect (test_db.py)
        max_body_bytes=200_000,
        max_attachment_bytes=1_000_000,
        token_cache_s=0.0,
    )


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def runtime(app: FastAPI) -> Runtime:
    rt: Runtime = app.state.runtime
    return rt


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kefu.test") as c:
            yield c


@pytest.fixture
def sync_runtime(settings: Settings) -> Iterator[Runtime]:
    """A runtime without the app, for service-level tests (writes run in the caller)."""
    rt = Runtime.create(settings, FrozenClock())
    yield rt
    rt.db.close()


@dataclass
class Actor:
    id: int
    email: str
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class People:
    """Makes users with API tokens through the real services."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def user(
        self,
        role: str = "agent",
        *,
        teams: list[int] | None = None,
        scopes: list[str] | None = None,
        name: str | None = None,
    ) -> Actor:
        email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
        created = self.runtime.db.run_write(
            accounts.create_user,
            UserCreate(
                email=email,
                name=name or email.split("@")[0],
                role=role,  # type: ignore[arg-type]
                password=PASSWORD,
                team_ids=teams or [],
            ),
        )
        token = self.runtime.db.run_write(
            accounts.create_token, created.id, TokenCreate(name="test", scopes=scopes or [])
        )
        return Actor(created.id, email, role, token.token)

    def team(
        self, name: str | None = None, *, private: bool = False, members: list[int] | None = None
    ) -> int:
        team = self.runtime.db.run_write(
            accounts.create_team,
            TeamCreate(
                name=name or f"team-{uuid.uuid4().hex[:6]}",
                private=private,
                member_ids=members or [],
            ),
        )
        return team.id


@pytest.fixture
def people(runtime: Runtime) -> People:
    return People(runtime)


@pytest.fixture
def admin(people: People) -> Actor:
    return people.user("admin")


@pytest.fixture
def agent(people: People) -> Actor:
    return people.user("agent")


def ticket_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "subject": "Refund for order 1042",
        "body": "The parcel never arrived. Please refund me.",
        "requester": {"email": "alice@example.com", "name": "Alice Liu"},
        "priority": "normal",
    }
    body.update(overrides)
    return body


async def create_ticket(
    client: httpx.AsyncClient, actor: Actor, **overrides: object
) -> dict[str, Any]:
    """POST a ticket (``ticket_body`` plus overrides) and return it; fails loudly if refused."""
    response = await client.post(
        "/api/v1/tickets", json=ticket_body(**overrides), headers=actor.headers
    )
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def define_field(
    client: httpx.AsyncClient, admin: Actor, key: str, type_: str, **extra: object
) -> dict[str, Any]:
    """Create a custom field definition (entity ticket unless ``entity=`` says otherwise)."""
    body = {"key": key, "label": key.replace("_", " ").title(), "type": type_, **extra}
    response = await client.post("/api/v1/fields", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    field: dict[str, Any] = response.json()
    return field


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The kefu CLI (run in-process by Typer's runner) pointed at the test's database."""
    monkeypatch.setenv("KEFU_DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("KEFU_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("KEFU_SECRET_KEY", "test-secret")
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()
