"""The kefu command: migrate, user create, token create (token alone on the last line), help."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from click.testing import Result
from typer.testing import CliRunner

from kefu import migrate
from kefu.cli import app as cli
from kefu.config import Settings, get_settings
from kefu.db import make_engine
from kefu.main import create_app


class Kefu:
    """Runs ``kefu ...`` in-process with KEFU_* pointing at a scratch data dir and database."""

    def __init__(self, data_dir: Path, database_url: str) -> None:
        self.env = {"KEFU_DATA_DIR": str(data_dir), "KEFU_DATABASE_URL": database_url}
        self.settings = Settings(data_dir=data_dir, database_url=database_url, secret_key="t")
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        get_settings.cache_clear()
        try:
            return self.runner.invoke(cli, list(args), env=self.env)
        finally:
            get_settings.cache_clear()


@pytest.fixture
def kefu(tmp_path: Path, empty_database: str) -> Iterator[Kefu]:
    yield Kefu(tmp_path / "data", empty_database)


def test_help_lists_the_commands(kefu: Kefu) -> None:
    result = kefu("--help")
    assert result.exit_code == 0
    for command in ("serve", "migrate", "demo", "user", "token"):
        assert command in result.stdout
    user_help = kefu("user", "create", "--help")
    assert "--role" in user_help.stdout and "--password" in user_help.stdout
    token_help = kefu("token", "create", "--help")
    assert "--scope" in token_help.stdout and "--expires" in token_help.stdout


def test_migrate(kefu: Kefu) -> None:
    result = kefu("migrate")
    assert result.exit_code == 0, result.output
    assert f"-> {migrate.head_revision()}" in result.stdout
    engine = make_engine(kefu.settings.resolved_database_url(), kefu.settings)
    assert migrate.is_current(engine)
    engine.dispose()
    again = kefu("migrate")
    assert again.exit_code == 0
    assert f"{migrate.head_revision()} -> {migrate.head_revision()}" in again.stdout


def test_user_create(kefu: Kefu) -> None:
    kefu("migrate")
    made = kefu(
        "user", "create", "Ops@Example.com", "--role", "supervisor", "--password", "long-enough-pw"
    )
    assert made.exit_code == 0, made.output
    assert "created supervisor ops@example.com" in made.stdout
    twice = kefu("user", "create", "ops@example.com", "--password", "long-enough-pw")
    assert twice.exit_code == 1
    assert "already exists" in twice.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--role", "boss", "--password", "long-enough-pw"], "role"),
        (["--role", "agent", "--password", "short"], "password"),
        (["--password", "long-enough-pw", "--language", "fr"], "language"),
    ],
)
def test_user_create_refuses_bad_input(kefu: Kefu, args: list[str], says: str) -> None:
    kefu("migrate")
    result = kefu("user", "create", "a@example.com", *args)
    assert result.exit_code == 1, result.output
    assert "error" in result.stderr and says in result.stderr
    assert "Traceback" not in result.output


async def test_token_create_prints_a_working_token_last(kefu: Kefu) -> None:
    kefu("migrate")
    kefu("user", "create", "bot@example.com", "--role", "agent", "--password", "long-enough-pw")
    result = kefu(
        "token", "create", "bot@example.com", "--scope", "tickets:read", "--expires", "30d"
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    token = lines[-1]
    assert token.startswith("kefu_") and " " not in token
    app = create_app(kefu.settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kefu.test") as client:
            headers = {"Authorization": f"Bearer {token}"}
            assert (await client.get("/api/v1/tickets", headers=headers)).status_code == 200
            write = await client.post(
                "/api/v1/tickets",
                json={"subject": "s", "requester": {"email": "c@example.com"}},
                headers=headers,
            )
            assert write.status_code == 403
            tokens = await client.get("/api/v1/tokens", headers=headers)
            assert tokens.status_code == 403  # tickets:read does not reach token management
    expires = _expiry_of(kefu, token)
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)


def _expiry_of(kefu: Kefu, token: str) -> datetime:
    from kefu.accounts import service as accounts
    from kefu.runtime import Runtime

    runtime = Runtime.create(kefu.settings)
    try:
        check = runtime.db.run_read(accounts.check_token, token)
        listed = runtime.db.run_read(accounts.list_tokens, check.principal.user_id)
    finally:
        runtime.db.close()
    expires = listed[0].expires_at
    assert expires is not None
    return expires


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["ghost@example.com"], "not found"),
        (["bot@example.com", "--scope", "everything"], "scope"),
        (["bot@example.com", "--expires", "someday"], "30d"),
        (["bot@example.com", "--expires", "2001-01-01"], "past"),
    ],
)
def test_token_create_refuses_bad_input(kefu: Kefu, args: list[str], says: str) -> None:
    kefu("migrate")
    kefu("user", "create", "bot@example.com", "--password", "long-enough-pw")
    result = kefu("token", "create", *args)
    assert result.exit_code == 1, result.output
    assert says in result.stderr
    assert result.stdout.strip() == ""
