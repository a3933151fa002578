"""The email channel's background work: IMAP polling as one periodic task over every
active account (IDLE inside the round where the server offers it), and the SMTP listener
that ``kefu serve`` starts when it is configured."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from kefu.channels.email import imap, smtp_listener
from kefu.worker.scheduler import PeriodicTask

if TYPE_CHECKING:
    from kefu.runtime import Runtime

log = logging.getLogger(__name__)
TASK_NAME = "email.fetch"


def register(runtime: Runtime) -> None:
    settings = runtime.settings
    if settings.email_poll_s <= 0:
        return
    runtime.scheduler.add(
        PeriodicTask(
            TASK_NAME,
            settings.email_poll_s,
            fetch_mail,
            lease_s=settings.email_idle_s + 120.0,
        )
    )


async def fetch_mail(runtime: Runtime) -> None:
    await imap.poll_all(runtime, runtime.settings.email_idle_s)


@contextlib.asynccontextmanager
async def smtp_listener_running(runtime: Runtime) -> AsyncIterator[asyncio.Server | None]:
    """The SMTP listener for the life of the app, when ``KEFU_SMTP_LISTEN_PORT`` is set."""
    settings = runtime.settings
    if not settings.smtp_listen_port:
        yield None
        return
    server = await smtp_listener.start(
        runtime, settings.smtp_listen_host, settings.smtp_listen_port
    )
    try:
        yield server
    finally:
        server.close()
        await server.wait_closed()
