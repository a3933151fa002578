"""Outbound mail against a real SMTP server on loopback: STARTTLS, implicit TLS and plain,
the login, the threading headers and the parts."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kefu.channels.base import OutboundMessage, SendRejected
from kefu.channels.email import sender
from kefu.channels.email.account import EmailAccount
from kefu.channels.email.inbound import to_items
from tests.channels.email.conftest import SmtpSink, free_port


def _certificate(folder: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


class Authenticator:
    def __init__(self) -> None:
        self.logins: list[tuple[bytes, bytes]] = []

    def __call__(
        self, server: SMTP, session: object, envelope: object, mechanism: str, data: object
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        ok = data.password == b"smtp-secret"
        return AuthResult(success=ok, handled=ok)  # not handled: aiosmtpd answers 535


@pytest.fixture
async def tls_servers(tmp_path: Path) -> AsyncIterator[tuple[SmtpSink, Authenticator, int, int]]:
    """One sink behind two servers: STARTTLS required on one, implicit TLS on the other."""
    context = _certificate(tmp_path)
    sink, auth = SmtpSink(0), Authenticator()
    loop = asyncio.get_running_loop()
    starttls, implicit = free_port(), free_port()

    def server(**options: object) -> SMTP:
        return SMTP(sink, authenticator=auth, auth_require_tls=True, **options)  # type: ignore[arg-type]

    servers = [
        await loop.create_server(
            lambda: server(tls_context=context, require_starttls=True), "127.0.0.1", starttls
        ),
        # implicit TLS: aiosmtpd only knows of STARTTLS, so it is told not to insist on it
        await loop.create_server(
            lambda: SMTP(sink, authenticator=auth, auth_require_tls=False),
            "127.0.0.1",
            implicit,
            ssl=context,
        ),
    ]
    try:
        yield sink, auth, starttls, implicit
    finally:
        for s in servers:
            s.close()
            await s.wait_closed()


def outbound(**thread: object) -> OutboundMessage:
    return OutboundMessage(
        ticket_id=42,
        message_id=7,
        to="alice@customer.example",
        text="您好，退款已经处理。",
        html="<p>您好，<b>退款</b>已经处理。</p>",
        subject="退款申请",
        attachments=[
            ("回执.pdf", "application/pdf", b"%PDF-1.4 receipt"),
            ("note.txt", "text/plain", b"hi"),
        ],
        thread={"reply_token": "abcdef0123456789abcd", **thread},
    )


@pytest.mark.parametrize("security", ["starttls", "ssl"])
async def test_sent_over_tls_with_login(
    tls_servers: tuple[SmtpSink, Authenticator, int, int], security: str
) -> None:
    sink, auth, starttls_port, implicit_port = tls_servers
    config = {
        "address": "support@example.com",
        "from_name": "客服中心",
        "smtp_host": "127.0.0.1",
        "smtp_port": starttls_port if security == "starttls" else implicit_port,
        "smtp_security": security,
        "smtp_password": "smtp-secret",
        "tls_verify": False,
    }
    result = await sender.send(outbound(last_inbound_id="<c-1@customer.example>"), config)
    assert auth.logins == [(b"support@example.com", b"smtp-secret")]
    [(mail_from, rcpts, mail)] = sink.received
    assert (mail_from, rcpts) == ("support@example.com", ["alice@customer.example"])
    assert mail["Message-ID"] == result.external_id
    assert result.external_id and result.external_id.startswith("<kefu.42.7.")
    assert mail["In-Reply-To"] == "<c-1@customer.example>"
    assert mail["Subject"] == "Re: 退款申请"
    assert str(mail["From"]) == "客服中心 <support@example.com>"
    assert str(mail["Reply-To"]) == "客服中心 <support+t-abcdef0123456789abcd@example.com>"
    assert mail.get_body(("html",)).get_content().strip() == "<p>您好，<b>退款</b>已经处理。</p>"
    names = [p.get_filename() for p in mail.iter_attachments()]
    assert names == ["回执.pdf", "note.txt"]
    assert result.thread == {"references": ["<c-1@customer.example>", result.external_id]}


async def test_a_wrong_password_is_retried_not_dropped(
    tls_servers: tuple[SmtpSink, Authenticator, int, int],
) -> None:
    _, _, port, _ = tls_servers
    config = {
        "address": "support@example.com",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "starttls",
        "smtp_password": "wrong",
        "tls_verify": False,
    }
    with pytest.raises(aiosmtplib.SMTPException) as raised:
        await sender.send(outbound(), config)
    assert isinstance(raised.value, aiosmtplib.SMTPAuthenticationError)
    assert not isinstance(raised.value, SendRejected)  # the outbox tries again


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({}, "no email account is set up to send from"),
        ({"smtp_host": "127.0.0.1"}, "email account setting address: Field required"),
    ],
)
async def test_a_missing_or_broken_account_fails_at_once_with_the_reason(
    config: dict[str, object], reason: str
) -> None:
    with pytest.raises(SendRejected) as raised:  # not retried: only the admin can fix it
        await sender.send(outbound(), config)
    assert str(raised.value) == reason


async def test_an_unverifiable_certificate_is_refused(
    tls_servers: tuple[SmtpSink, Authenticator, int, int],
) -> None:
    sink, _, port, _ = tls_servers
    config = {"address": "support@example.com", "smtp_host": "127.0.0.1", "smtp_port": port}
    with pytest.raises(Exception, match=r"(?i)certificate"):
        await sender.send(outbound(), config)
    assert sink.received == []


def test_the_same_message_gets_the_same_message_id() -> None:
    account = EmailAccount(address="support@example.com")
    first = sender.build_message(outbound(), account)
    again = sender.build_message(outbound(), account)
    assert first["Message-ID"] == again["Message-ID"]
    assert (
        sender.build_message(outbound(reply_token="other"), account)["Message-ID"]
        != first["Message-ID"]
    )


def test_references_keep_the_first_and_the_latest() -> None:
    thread = {"references": [f"<r{i}@x>" for i in range(30)], "last_inbound_id": "<last@x>"}
    in_reply_to, refs = sender.conversation_ids(thread)
    assert in_reply_to == "<last@x>"
    assert len(refs) == sender.MAX_REFERENCES and refs[0] == "<r0@x>" and refs[-1] == "<last@x>"


def test_what_kefu_sends_comes_back_recognised_as_its_own() -> None:
    account = EmailAccount(address="support@example.com")
    raw = sender.build_message(outbound(), account).as_bytes()
    [item] = to_items(raw, account)
    assert getattr(item, "automated", False)
    assert (
        getattr(item, "external_id", None)
        == sender.build_message(outbound(), account)["Message-ID"]
    )
