"""``kefu mail``: feed raw mail in as an MTA would, run the SMTP listener, poll IMAP once."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from kefu import migrate
from kefu.channels import service as channels
from kefu.channels.email import adapter as _adapter  # noqa: F401  (registers "email")
from kefu.channels.email import imap, inbound, smtp_listener
from kefu.config import get_settings
from kefu.kit.crypto import load_or_create_secret
from kefu.runtime import Runtime

mail_app = typer.Typer(help="The email channel: ingest raw mail, SMTP listener, IMAP.")
err = Console(stderr=True)
T = TypeVar("T")


@asynccontextmanager
async def _running() -> AsyncIterator[Runtime]:
    settings = get_settings()
    runtime = Runtime.create(settings)
    runtime.secret_key = settings.secret_key or load_or_create_secret(
        settings.data_dir / "secret_key"
    )
    migrate.upgrade(runtime.db.engine)
    runtime.bus.attach(asyncio.get_running_loop())
    runtime.db.start()
    try:
        yield runtime
    finally:
        await runtime.bus.drain()
        runtime.db.close()


def _run(work: Callable[[Runtime], Awaitable[T]]) -> T:
    async def main() -> T:
        async with _running() as runtime:
            return await work(runtime)

    return asyncio.run(main())


@mail_app.command("ingest")
def ingest(
    files: Annotated[list[Path] | None, typer.Argument(help="RFC 822 files; stdin if none")] = None,
    account: Annotated[
        int | None, typer.Option(help="Email account id; default: the first active one")
    ] = None,
) -> None:
    """Store raw messages exactly as IMAP or the SMTP listener would; print the ticket id
    each one landed on, one per line."""
    sources = [(str(f), f.read_bytes) for f in files or []] or [("stdin", sys.stdin.buffer.read)]

    async def work(runtime: Runtime) -> int:
        account_id = account
        if account_id is None:
            account_id = await runtime.db.read(channels.default_account, "email")
        failures = 0
        for name, read in sources:
            try:
                results = await inbound.ingest_raw(runtime, read(), account_id)
            except Exception as exc:
                err.print(f"[red]error:[/red] {name}: {type(exc).__name__}: {exc}")
                failures += 1
                continue
            for result in results:
                state = (
                    "duplicate" if result.duplicate else "new" if result.created_ticket else "reply"
                )
                err.print(f"{name}: ticket {result.ticket_id} ({state})")
                print(result.ticket_id, flush=True)
        return failures

    if _run(work):
        raise typer.Exit(code=1)


@mail_app.command("listen")
def listen(
    host: Annotated[str | None, typer.Option(help="Defaults to KEFU_SMTP_LISTEN_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Defaults to KEFU_SMTP_LISTEN_PORT")] = None,
) -> None:
    """Run the SMTP listener alone (an MTA forwards support mail to it)."""
    settings = get_settings()
    host = host or settings.smtp_listen_host
    port = port or settings.smtp_listen_port or 2525

    async def work(runtime: Runtime) -> None:
        server = await smtp_listener.start(runtime, host, port)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        err.print(f"kefu SMTP listener on {host}:{port}")
        await stop.wait()
        server.close()
        await server.wait_closed()

    _run(work)


@mail_app.command("poll")
def poll() -> None:
    """Read every active account's IMAP mailbox once (no IDLE) and say how much came in."""
    report = _run(lambda runtime: imap.poll_all(runtime, 0.0))
    for account_id, outcome in report.items():
        err.print(f"email account {account_id}: {outcome}")
    if any(isinstance(o, str) for o in report.values()):
        raise typer.Exit(code=1)
