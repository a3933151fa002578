"""Inbound mail by IMAP: each active email account's mailbox is read by UID.

- Nothing is fetched twice or lost across restarts: the last UID handled and the mailbox's
  UIDVALIDITY are stored (``email_mailbox_states``) after each message. A changed
  UIDVALIDITY (the server renumbered the mailbox) starts over from the unseen mail; a
  message seen twice anyway is recognised by its Message-ID and stored once.
- The first read of a mailbox takes its unseen mail, not years of history.
- Handled mail is moved to ``imap_processed_folder`` when one is set (MOVE, or COPY +
  \\Deleted + UID EXPUNGE), else flagged \\Seen. Mail that could not be stored stays unread
  in the mailbox for a person, and the poller goes on with the next one. A database error
  stops the round without moving on, so the message is tried again next time.
- IDLE where the server offers it: after a round the connection waits for the server to
  announce new mail (up to ``KEFU_EMAIL_IDLE_S``) and reads it at once.

imaplib (stdlib, synchronous, with STARTTLS) runs in worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import logging
import re
import select
import ssl
import threading
import time
from typing import TYPE_CHECKING

import anyio
from sqlalchemy.exc import DBAPIError

from kefu.channels import delivery
from kefu.channels.email import inbound
from kefu.channels.email import service as email_service
from kefu.channels.email.account import EmailAccount

if TYPE_CHECKING:
    from kefu.runtime import Runtime

log = logging.getLogger(__name__)
_FETCHED_UID = re.compile(rb"UID (\d+)")
IDLE_TAG = b"KEFUIDLE"


class MailboxSession:
    """One logged-in IMAP connection with the account's mailbox selected (blocking)."""

    def __init__(self, account: EmailAccount, timeout: float = 30.0) -> None:
        self.account = account
        self.timeout = timeout
        self.conn: imaplib.IMAP4 | None = None
        self.capabilities: set[str] = set()
        self.uidvalidity = 0
        self.uidnext = 0
        self.stopping = threading.Event()  # set from the event loop: leave IDLE now
        self.idle_done = threading.Event()
        self.idle_done.set()

    def open(self) -> None:
        a = self.account
        host, port = a.imap_host, a.imap_port_or_default
        context = _tls_context(a.tls_verify)
        if a.imap_security == "ssl":
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                host, port, ssl_context=context, timeout=self.timeout
            )
        else:
            conn = imaplib.IMAP4(host, port, timeout=self.timeout)
            if a.imap_security == "starttls":
                conn.starttls(ssl_context=context)
        self.conn = conn
        conn.login(a.imap_username or a.address, a.imap_password)
        typ, data = conn.capability()
        self.capabilities = set(data[0].decode().upper().split()) if typ == "OK" else set()
        self._select()
        if a.imap_processed_folder:
            conn.create(_quote(a.imap_processed_folder))  # NO when it exists: fine

    def _select(self) -> None:
        conn = self._conn()
        typ, data = conn.select(_quote(self.account.imap_mailbox))
        if typ != "OK":
            raise imaplib.IMAP4.error(f"cannot select {self.account.imap_mailbox}: {data}")
        self.uidvalidity = _response_int(conn, "UIDVALIDITY")
        self.uidnext = _response_int(conn, "UIDNEXT")

    def _conn(self) -> imaplib.IMAP4:
        if self.conn is None:
            raise imaplib.IMAP4.error("not connected")
        return self.conn

    @property
    def can_idle(self) -> bool:
        return "IDLE" in self.capabilities

    def new_uids(self, after: int | None) -> list[int]:
        """UIDs above ``after``; the unseen ones when the mailbox was never read."""
        conn = self._conn()
        criteria = "UNSEEN" if after is None else f"UID {after + 1}:*"
        typ, data = conn.uid("SEARCH", criteria)
        if typ != "OK":
            raise imaplib.IMAP4.error(f"UID SEARCH failed: {data}")
        uids = sorted({int(x) for x in (data[0] or b"").split()})
        # "n:*" always includes the highest UID, even when it is below n
        return [u for u in uids if after is None or u > after]

    def fetch(self, uid: int) -> bytes | None:
        typ, data = self._conn().uid("FETCH", str(uid), "(BODY.PEEK[])")
        if typ != "OK":
            raise imaplib.IMAP4.error(f"UID FETCH {uid} failed: {data}")
        for item in data:
            if isinstance(item, tuple) and _FETCHED_UID.search(item[0]):
                return bytes(item[1])
        return None  # expunged meanwhile

    def mark_processed(self, uid: int) -> None:
        conn, folder = self._conn(), self.account.imap_processed_folder
        conn.uid("STORE", str(uid), "+FLAGS", "(\\Seen)")
        if not folder:
            return
        if "MOVE" in self.capabilities:
            conn.uid("MOVE", str(uid), _quote(folder))
            return
        typ, _ = conn.uid("COPY", str(uid), _quote(folder))
        if typ == "OK" and "UIDPLUS" in self.capabilities:
            conn.uid("STORE", str(uid), "+FLAGS", "(\\Deleted)")
            conn.uid("EXPUNGE", str(uid))

    def idle(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the server to announce new mail (RFC 2177); leaves
        within a second when ``stopping`` is set."""
        conn = self._conn()
        self.idle_done.clear()
        try:
            conn.send(IDLE_TAG + b" IDLE\r\n")
            if not conn.readline().startswith(b"+"):
                self._read_until_tagged()
                return False
            pushed = self._wait_for_push(conn, time.monotonic() + seconds)
            conn.send(b"DONE\r\n")
            self._read_until_tagged()
            return pushed
        finally:
            self.idle_done.set()

    def _wait_for_push(self, conn: imaplib.IMAP4, deadline: float) -> bool:
        while not self.stopping.is_set() and (remaining := deadline - time.monotonic()) > 0:
            if not _readable(conn, min(remaining, 1.0)):
                continue
            line = conn.readline()
            if not line:
                raise imaplib.IMAP4.abort("the server closed the connection during IDLE")
            if line.startswith(b"*") and (b"EXISTS" in line or b"RECENT" in line):
                return True
        return False

    def _read_until_tagged(self) -> None:
        conn = self._conn()
        while True:
            line = conn.readline()
            if not line:
                raise imaplib.IMAP4.abort("the server closed the connection")
            if line.startswith(IDLE_TAG):
                return

    def close(self) -> None:
        self.stopping.set()
        self.idle_done.wait(timeout=5.0)
        if self.conn is None:
            return
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            self.conn.logout()
        self.conn = None


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _response_int(conn: imaplib.IMAP4, name: str) -> int:
    _, data = conn.response(name)
    try:
        return int(data[-1]) if data and data[-1] is not None else 0
    except (TypeError, ValueError):
        return 0


def _tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _readable(conn: imaplib.IMAP4, timeout: float) -> bool:
    sock = conn.sock
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    readable, _, _ = select.select([sock], [], [], timeout)
    return bool(readable)


# -- the async side: one account's round --------------------------------------------------------
async def poll_account(runtime: Runtime, account_id: int, idle_s: float = 0.0) -> int:
    """Read the account's new mail, then (IDLE) keep reading what arrives for ``idle_s``.
    Returns how many messages were handled."""
    account = await inbound.email_account(runtime, account_id)
    assert account is not None
    session = MailboxSession(account)
    await anyio.to_thread.run_sync(session.open)
    try:
        handled = await drain(runtime, account, session)
        deadline = time.monotonic() + idle_s
        while account.imap_idle and session.can_idle and time.monotonic() < deadline:
            wait_s = min(deadline - time.monotonic(), 25 * 60)
            if await _idle(session, wait_s):
                handled += await drain(runtime, account, session)
        return handled
    finally:
        await anyio.to_thread.run_sync(session.close)


async def _idle(session: MailboxSession, seconds: float) -> bool:
    """IDLE in a thread the event loop can leave at once (shutdown): cancelling tells the
    thread to stop, and ``close`` waits for it."""
    try:
        return await asyncio.to_thread(session.idle, seconds)
    except asyncio.CancelledError:
        session.stopping.set()
        raise


async def drain(runtime: Runtime, account: EmailAccount, session: MailboxSession) -> int:
    assert account.id is not None
    mailbox = account.imap_mailbox
    known = await runtime.db.read(email_service.position, account.id, mailbox)
    after = known.last_uid if known and known.uidvalidity == session.uidvalidity else None
    uids = await anyio.to_thread.run_sync(session.new_uids, after)
    for uid in uids:
        await _handle(runtime, account, session, uid)
        await runtime.db.write(
            email_service.record_position, account.id, mailbox, session.uidvalidity, uid
        )
    if after is None and session.uidnext:
        top = max([session.uidnext - 1, *uids])
        await runtime.db.write(
            email_service.record_position, account.id, mailbox, session.uidvalidity, top
        )
    return len(uids)


async def _handle(
    runtime: Runtime, account: EmailAccount, session: MailboxSession, uid: int
) -> None:
    raw = await anyio.to_thread.run_sync(session.fetch, uid)
    if raw is None:
        return
    try:
        await inbound.ingest_raw(runtime, raw, account.id, account=account)
    except DBAPIError:
        raise  # the database is away: stop here, this message is read again next round
    except Exception:
        log.exception(
            "mail UID %s of email account %s could not be stored; it stays in the mailbox",
            uid,
            account.id,
        )
        return
    await anyio.to_thread.run_sync(session.mark_processed, uid)


async def poll_all(runtime: Runtime, idle_s: float = 0.0) -> dict[int, int | str]:
    """One round over every active IMAP account, side by side; an account that fails is
    logged and the others go on."""
    ids = await runtime.db.read(email_service.active_account_ids, delivery.secret_box(runtime))
    outcomes = await asyncio.gather(
        *(poll_account(runtime, i, idle_s) for i in ids), return_exceptions=True
    )
    report: dict[int, int | str] = {}
    for account_id, outcome in zip(ids, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            log.warning("IMAP polling of email account %s failed: %s", account_id, outcome)
            report[account_id] = f"{type(outcome).__name__}: {outcome}"
        else:
            report[account_id] = outcome
    return report
