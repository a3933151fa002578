"""Fixtures of the email tests: the MIME corpus, a real IMAP server (Debian's dovecot, run
as a child process on a free loopback port with its own config in a temp dir), an SMTP
server (aiosmtpd) that keeps what it receives, and email accounts made through the API."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from kefu.config import Settings
from tests.conftest import Actor

FIXTURES = Path(__file__).parent / "fixtures"
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
PASSWORD = "imap-secret-7"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No background IMAP polling: the tests run each round themselves."""
    return settings.model_copy(update={"email_poll_s": 0.0, "email_idle_s": 0.0})


# -- IMAP: dovecot --------------------------------------------------------------------------
@dataclass
class Dovecot:
    port: int
    root: Path
    users: list[str]

    def login(self, user: str) -> Any:
        import imaplib

        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(user, PASSWORD)
        return conn

    def deliver(self, user: str, raw: bytes, mailbox: str = "INBOX") -> None:
        conn = self.login(user)
        try:
            typ, data = conn.append(mailbox, None, None, raw)
            assert typ == "OK", data
        finally:
            conn.logout()


def _mail_user() -> tuple[int, int, str, str]:
    """(uid, gid, login user, internal user): dovecot refuses to run its processes as root."""
    if os.getuid() != 0:
        name = pwd.getpwuid(os.getuid()).pw_name
        return os.getuid(), os.getgid(), name, name
    account = pwd.getpwnam("dovecot")
    return account.pw_uid, account.pw_gid, "dovenull", "dovecot"


def _dovecot_config(root: Path, port: int) -> str:
    uid, gid, login_user, internal_user = _mail_user()
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{root}/mail/%n
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%n
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    if not os.path.exists(DOVECOT):
        pytest.fail("dovecot is not installed: run `make mailserver` (scripts/ensure-dovecot.sh)")
    # not under pytest's tmp dir: as root that is mode 0700, closed to dovecot's own users
    root = Path(tempfile.mkdtemp(prefix="kefu-dovecot-"))
    users = [f"support{i}@example.com" for i in range(8)]
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    (root / "passwd").write_text("".join(f"{u}:{{PLAIN}}{PASSWORD}::::::\n" for u in users))
    uid, gid, _, _ = _mail_user()
    os.chown(root / "mail", uid, gid)
    root.chmod(0o755)
    port = free_port()
    (root / "dovecot.conf").write_text(_dovecot_config(root, port))
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")])
    server = Dovecot(port, root, users)
    try:
        _wait_for_port(port, process, root)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=20)
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], root: Path) -> None:
    for _ in range(100):
        if process.poll() is not None:
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            pytest.fail(f"dovecot exited: {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(100).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail("dovecot did not start")


_user_counter = iter(range(10_000))


@pytest.fixture
def mailbox_user(dovecot: Dovecot) -> str:
    """A dovecot user of this test alone (its mailbox emptied first)."""
    user = dovecot.users[next(_user_counter) % len(dovecot.users)]
    conn = dovecot.login(user)
    try:
        for folder in ("INBOX", "kefu/processed"):
            typ, data = conn.select(f'"{folder}"')
            if typ == "OK" and int(data[0] or 0) > 0:
                conn.store("1:*", "+FLAGS", "(\\Deleted)")
                conn.expunge()
    finally:
        conn.logout()
    return user


# -- SMTP: aiosmtpd sink --------------------------------------------------------------------
@dataclass
class SmtpSink:
    port: int
    received: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient → SMTP reply

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        self.received.append((str(envelope.mail_from), list(envelope.rcpt_tos), message))
        return "250 Message accepted"


@pytest.fixture
async def smtp_sink() -> AsyncIterator[SmtpSink]:
    sink = SmtpSink(free_port())
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(sink, enable_SMTPUTF8=True), "127.0.0.1", sink.port
    )
    try:
        yield sink
    finally:
        server.close()
        await server.wait_closed()


# -- accounts -------------------------------------------------------------------------------
async def make_account(
    client: httpx.AsyncClient, admin: Actor, address: str = "support@example.com", **config: Any
) -> dict[str, Any]:
    secrets = {k: config.pop(k) for k in ("imap_password", "smtp_password") if k in config}
    body = {
        "kind": "email",
        "name": f"Mailbox {address}",
        "address": address,
        "config": config,
        "secrets": secrets,
    }
    response = await client.post("/api/v1/channel-accounts", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    account: dict[str, Any] = response.json()
    return account
