"""An SMTP server an MTA (Postfix, Exim, a relay) forwards support mail to.

It accepts mail only for the addresses of active email accounts (their +detail and
aliases included): anything else gets 550 at RCPT, so it is no open sink. A message is
answered 250 only once it is stored; a failure answers 451 so the MTA keeps the message
and tries again: nothing is lost. Started by ``kefu serve`` when ``KEFU_SMTP_LISTEN_PORT``
is set, or alone with ``kefu mail listen``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from kefu.channels import delivery
from kefu.channels import service as channels
from kefu.channels.email import inbound, threads
from kefu.db import Ctx
from kefu.kit.crypto import SecretBox

if TYPE_CHECKING:
    from kefu.runtime import Runtime

log = logging.getLogger(__name__)
ADDRESS_CACHE_S = 30.0


def mailbox_addresses(ctx: Ctx, box: SecretBox) -> dict[str, int]:
    """Every address an active email account receives, to its account id."""
    found: dict[str, int] = {}
    for account in channels.list_accounts(ctx, box, "email"):
        if not account.active:
            continue
        for address in [account.address, *account.config.get("aliases", [])]:
            if address:
                found.setdefault(threads.base_address(str(address)), account.id)
    return found


class KefuHandler:
    """aiosmtpd handler: RCPT checks the mailbox, DATA stores the message."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._addresses: dict[str, int] = {}
        self._loaded_at = 0.0

    async def _known(self) -> dict[str, int]:
        if time.monotonic() - self._loaded_at > ADDRESS_CACHE_S:
            box = delivery.secret_box(self.runtime)
            self._addresses = await self.runtime.db.read(mailbox_addresses, box)
            self._loaded_at = time.monotonic()
        return self._addresses

    async def account_for(self, address: str) -> tuple[bool, int | None]:
        """(accepted, account id); with no email account at all, mail is taken unassigned."""
        known = await self._known()
        if not known:
            return True, None
        account_id = known.get(threads.base_address(address))
        return account_id is not None, account_id

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        accepted, _ = await self.account_for(address)
        if not accepted:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        raw = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogateescape")
        account_id = None
        for rcpt in envelope.rcpt_tos:
            account_id = (await self.account_for(rcpt))[1]
            if account_id is not None:
                break
        mail_from = envelope.mail_from if envelope.mail_from not in (None, "<>") else None
        env = inbound.Envelope(mail_from, list(envelope.rcpt_tos))
        try:
            results = await inbound.ingest_raw(self.runtime, raw, account_id, env)
        except Exception:
            log.exception("SMTP listener could not store a message from %s", mail_from)
            return "451 4.3.0 Could not store the message now; try again later"
        ticket = results[0].ticket_id if results else "-"
        return f"250 2.0.0 OK ticket {ticket}"


async def start(runtime: Runtime, host: str, port: int) -> asyncio.Server:
    handler = KefuHandler(runtime)
    limit = runtime.settings.smtp_listen_max_bytes
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, data_size_limit=limit, enable_SMTPUTF8=True, ident="kefu"),
        host,
        port,
        reuse_port=True,  # every uvicorn worker process may listen on the same port
    )
    log.info("SMTP listener on %s:%s", host, port)
    return server
