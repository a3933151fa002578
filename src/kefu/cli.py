"""The ``kefu`` command line."""

from __future__ import annotations

import re
import runpy
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from kefu import migrate
from kefu.accounts import service as accounts
from kefu.accounts.models import Role
from kefu.accounts.schemas import TokenCreate, UserCreate
from kefu.channels.email.cli import mail_app
from kefu.config import get_settings
from kefu.kit.errors import DomainError
from kefu.routing.cli import simulate_cmd
from kefu.rules.cli import rules_app
from kefu.runtime import Runtime
from kefu.sla.cli import sla_app

app = typer.Typer(
    help="kefu (客服): self-hosted omnichannel customer service. "
    "Settings come from KEFU_* environment variables (see README).",
    no_args_is_help=True,
    add_completion=False,
)
user_app = typer.Typer(help="Manage agents, supervisors and admins.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(sla_app, name="sla")
app.add_typer(rules_app, name="rules")
app.add_typer(mail_app, name="mail")
app.command("simulate")(simulate_cmd)
console = Console()
err = Console(stderr=True)


def _runtime() -> Runtime:
    return Runtime.create(get_settings())


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=1)


@app.command("migrate")
def migrate_cmd() -> None:
    """Bring the database schema to the latest version."""
    runtime = _runtime()
    before = migrate.current_revision(runtime.db.engine)
    migrate.upgrade(runtime.db.engine)
    after = migrate.current_revision(runtime.db.engine)
    console.print(f"database schema: {before or 'empty'} -> {after}", soft_wrap=True)
    runtime.db.close()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Defaults to KEFU_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Defaults to KEFU_PORT")] = None,
    workers: Annotated[int | None, typer.Option(help="Processes; defaults to KEFU_WORKERS")] = None,
) -> None:
    """Migrate if needed, then serve the web app and API."""
    import uvicorn

    settings = get_settings()
    runtime = _runtime()
    migrate.upgrade(runtime.db.engine)
    runtime.db.close()
    console.print(f"kefu serving on http://{host or settings.host}:{port or settings.port}")
    uvicorn.run(
        "kefu.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        log_level=settings.log_level,
        access_log=False,
        loop="uvloop",
        http="httptools",
        proxy_headers=True,
        # Open pages hold live feeds (SSE) that never finish on their own; without a limit
        # a stop would wait for every browser to leave.
        timeout_graceful_shutdown=5,
    )


@app.command()
def worker() -> None:
    """Run only the periodic tasks (SLA timers, outbox delivery, ...), without serving HTTP.
    Use it with KEFU_RUN_WORKER=false on the web processes to keep background work apart."""
    import asyncio
    import signal

    from kefu.main import register_tasks

    async def run() -> None:
        runtime = _runtime()
        migrate.upgrade(runtime.db.engine)
        register_tasks(runtime)
        runtime.bus.attach(asyncio.get_running_loop())
        runtime.db.start()
        runtime.scheduler.start()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        console.print(f"kefu worker running tasks: {', '.join(runtime.scheduler.tasks)}")
        await stop.wait()
        await runtime.scheduler.stop()
        runtime.db.close()

    asyncio.run(run())


@app.command()
def demo(
    tickets: Annotated[int, typer.Option(help="How many tickets to create")] = 1000,
    customers: Annotated[int, typer.Option(help="How many customers to create")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed, for the same data every time")] = 7,
) -> None:
    """Load demo data (agents in two teams, customers, companies, tickets in zh and en)."""
    from kefu.demo.loader import load_demo

    runtime = _runtime()
    migrate.upgrade(runtime.db.engine)
    try:
        summary = load_demo(runtime, tickets=tickets, customers=customers, seed=seed)
    finally:
        runtime.db.close()
    for line in summary:
        console.print(line, soft_wrap=True)  # a wrapped line would split the password


@user_app.command("create")
def user_create(
    email: str,
    role: Annotated[str, typer.Option(help="admin, supervisor, agent or field_engineer")] = "agent",
    password: Annotated[str | None, typer.Option(help="At least 10 characters")] = None,
    name: Annotated[
        str | None, typer.Option(help="Display name; defaults to the email's name")
    ] = None,
    language: Annotated[str, typer.Option(help="en or zh_CN")] = "en",
    time_zone: Annotated[str, typer.Option(help="IANA zone, e.g. Asia/Shanghai")] = "UTC",
) -> None:
    """Create a user who can sign in."""
    if role not in Role.__members__:
        _fail(f"--role must be one of {', '.join(Role)}, not '{role}'")
    try:
        data = UserCreate(
            email=email,
            name=name or email.split("@")[0],
            role=Role(role),
            password=password,
            language=language,
            time_zone=time_zone,
        )
    except ValueError as exc:
        _fail(str(exc))
    runtime = _runtime()
    try:
        user = runtime.db.run_write(accounts.create_user, data)
    except DomainError as exc:
        _fail(exc.detail)
    finally:
        runtime.db.close()
    console.print(f"created {user.role} {user.email} (id {user.id})")


_DURATION = re.compile(r"^(\d+)([hdwy])$")


def parse_expiry(value: str | None) -> datetime | None:
    """'30d', '12h', '2w', '1y' from now, or an ISO date / datetime."""
    if value is None:
        return None
    match = _DURATION.match(value.strip())
    if match:
        count, unit = int(match.group(1)), match.group(2)
        hours = {"h": 1, "d": 24, "w": 24 * 7, "y": 24 * 365}[unit] * count
        return datetime.now(UTC) + timedelta(hours=hours)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(
            f"--expires {value}: use 30d, 12h, 2w, 1y or a date like 2027-01-31"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@token_app.command("create")
def token_create(
    email: str,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="Repeatable, e.g. tickets:read")
    ] = None,
    expires: Annotated[str | None, typer.Option(help="30d, 12h, 1y or an ISO date")] = None,
    name: Annotated[str, typer.Option(help="What the token is for")] = "CLI token",
) -> None:
    """Create an API token for a user; the token alone is printed on the last line."""
    try:
        data = TokenCreate(name=name, scopes=scope or [], expires_at=parse_expiry(expires))
    except ValueError as exc:
        _fail(str(exc))
    runtime = _runtime()
    try:
        user_id = runtime.db.run_read(accounts.user_id_by_email, email)
        created = runtime.db.run_write(accounts.create_token, user_id, data)
    except DomainError as exc:
        _fail(exc.detail)
    finally:
        runtime.db.close()
    scopes = ", ".join(created.scopes) or "all of the user's role"
    expiry = created.expires_at or "never"
    err.print(f"token {created.prefix}… for {email}; scopes: {scopes}; expires: {expiry}")
    print(created.token)


@app.command()
def bench(
    name: Annotated[str, typer.Argument(help="api, ... (a module under bench/)")],
    args: Annotated[list[str] | None, typer.Argument(help="Passed to the benchmark")] = None,
) -> None:
    """Run a benchmark from the bench/ folder (same as python -m bench.NAME)."""
    sys.argv = [f"bench.{name}", *(args or [])]
    sys.path.insert(0, str(Path.cwd()))  # the installed `kefu` script does not look there
    try:
        runpy.run_module(f"bench.{name}", run_name="__main__")
    except ImportError as exc:
        _fail(f"no benchmark '{name}' (run from the source checkout): {exc}")


if __name__ == "__main__":
    app()
