"""Outbound mail: an agent's reply as a threaded multipart message, sent by SMTP.

- From the account's address; Reply-To ``<local>+t-<token>@<domain>`` so the answer finds
  the ticket even if the customer's mailer drops the threading headers.
- Message-ID deterministic per message (a retried send is the same mail), stored as the
  message's external id by the outbox handler: replies' In-Reply-To find the ticket.
- In-Reply-To the customer's last message, References the conversation so far.
- ``X-Auto-Response-Suppress: OOF, AutoReply`` asks Exchange not to answer with an
  out-of-office; bounces (NDRs) still come back and mark the message failed.
- 5xx answers (unknown recipient, refused message) fail the message at once; anything
  else (connection, timeouts, 4xx) raises so the outbox retries with back-off.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any

import aiosmtplib

from kefu.channels.base import OutboundMessage, SendRejected, SendResult
from kefu.channels.email import threads
from kefu.channels.email.account import EmailAccount, account_from
from kefu.kit.html import html_to_text
from kefu.kit.text import has_reply_prefix

MAX_REFERENCES = 20


def conversation_ids(thread: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    """(In-Reply-To, References): the customer's last message, after the ids so far."""
    refs = [str(r) for r in thread.get("references") or []]
    last_inbound = thread.get("last_inbound_id")
    if last_inbound and last_inbound not in refs:
        refs.append(str(last_inbound))
    if len(refs) > MAX_REFERENCES:  # RFC 5322: keep the first and the most recent
        refs = [refs[0], *refs[-(MAX_REFERENCES - 1) :]]
    in_reply_to = str(last_inbound) if last_inbound else (refs[-1] if refs else None)
    return in_reply_to, refs


def build_message(
    message: OutboundMessage, account: EmailAccount, now: datetime | None = None
) -> EmailMessage:
    token = message.thread.get("reply_token")
    in_reply_to, refs = conversation_ids(message.thread)
    mail = EmailMessage(policy=policy.SMTP)
    mail["From"] = formataddr((account.from_name, account.address))
    mail["To"] = message.to
    if account.reply_token and token:
        mail["Reply-To"] = formataddr(
            (account.from_name, threads.token_address(account.address, str(token)))
        )
    subject = message.subject or ""
    mail["Subject"] = subject if not refs or has_reply_prefix(subject) else f"Re: {subject}"
    mail["Date"] = format_datetime(now or datetime.now(UTC))
    mail["Message-ID"] = threads.message_id(
        message.ticket_id, message.message_id, str(token) if token else None, account.domain
    )
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
        mail["References"] = " ".join(refs)
    mail["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    mail.set_content(message.text or html_to_text(message.html))
    if message.html:
        mail.add_alternative(message.html, subtype="html")
    for filename, content_type, data in message.attachments:
        _attach(mail, filename, content_type, data)
    return mail


def _attach(mail: EmailMessage, filename: str, content_type: str, data: bytes) -> None:
    maintype, _, subtype = content_type.partition("/")
    if maintype in ("text", "message", "multipart") or not subtype:
        maintype, subtype = "application", "octet-stream"  # sent as stored, byte for byte
    mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)


def sending_account(config: Mapping[str, Any]) -> EmailAccount:
    """The account to send from; without one (or with a broken one) a retry cannot help,
    so the reply is marked failed at once with the reason, for the admin to fix."""
    if not config:
        raise SendRejected("no email account is set up to send from")
    try:
        return account_from(config)
    except ValueError as exc:
        raise SendRejected(str(exc)) from exc


def refuse_loops(to: str, account: EmailAccount) -> None:
    local = to.split("@", 1)[0].lower()
    if threads.base_address(to) in {threads.base_address(a) for a in account.own_addresses}:
        raise SendRejected(f"{to} is this mailbox itself: sending would loop")
    if local in ("mailer-daemon", "postmaster", "mail-daemon"):
        raise SendRejected(f"{to} is a mail system address, it takes no replies")


async def send(message: OutboundMessage, config: Mapping[str, Any]) -> SendResult:
    account = sending_account(config)
    if not account.smtp_host:
        raise SendRejected("the email account has no SMTP server configured")
    refuse_loops(message.to, account)
    mail = build_message(message, account)
    try:
        await aiosmtplib.send(
            mail,
            sender=account.address,
            recipients=[message.to],
            hostname=account.smtp_host,
            port=account.smtp_port_or_default,
            username=account.smtp_username or (account.address if account.smtp_password else None),
            password=account.smtp_password or None,
            use_tls=account.smtp_security == "ssl",
            start_tls=account.smtp_security == "starttls",
            validate_certs=account.tls_verify,
            timeout=60,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        raise SendRejected(f"the server refused {message.to}: {exc}") from exc
    except aiosmtplib.SMTPResponseException as exc:
        if exc.code >= 500 and not isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            raise SendRejected(f"the server refused the message: {exc.code} {exc.message}") from exc
        raise
    message_id = str(mail["Message-ID"])
    _, refs = conversation_ids(message.thread)
    return SendResult(external_id=message_id, thread={"references": [*refs, message_id][-20:]})
