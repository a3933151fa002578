"""One inbound path for every way mail reaches kefu (IMAP, the SMTP listener, the raw-MIME
webhook, ``kefu mail ingest``): raw RFC 822 bytes → ``InboundMessage`` (+ a
``DeliveryUpdate`` for a bounce of a message kefu sent) → ``channels.delivery.receive``.

What is stored for each mail: the new part of the text and HTML (quotes stripped for
display, ``quotes``), its attachments and inline images, and the raw original as the
attachment ``original.eml`` (message/rfc822), so nothing the customer sent is lost. An
original over the attachment limit is kept with its largest parts replaced by a note.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from typing import TYPE_CHECKING

import anyio
from sqlalchemy.exc import IntegrityError

from kefu.channels import delivery
from kefu.channels.base import DeliveryUpdate, Inbound, InboundAttachment, InboundMessage
from kefu.channels.email import mime, quotes, threads
from kefu.channels.email.account import EmailAccount, account_from
from kefu.channels.schemas import IngestResult
from kefu.customers.service import identity_of

if TYPE_CHECKING:
    from kefu.runtime import Runtime

log = logging.getLogger(__name__)
CHANNEL = "email"
ORIGINAL_NAME = "original.eml"
INLINE_PARSE_BYTES = 64_000  # larger mail is parsed in a worker thread
_FORWARD_SUBJECT = re.compile(r"^\s*(?:fwd?|fw|转发|轉寄|转寄)\s*[:：]", re.IGNORECASE)


@dataclass(frozen=True)
class Envelope:
    """What the SMTP transaction said, where there was one."""

    mail_from: str | None = None
    rcpt_tos: list[str] = field(default_factory=list)


def to_items(
    raw: bytes,
    account: EmailAccount | None = None,
    envelope: Envelope | None = None,
    max_original_bytes: int | None = None,
) -> list[Inbound]:
    """The message (and a bounce's delivery update) in one raw mail; never raises."""
    mail = mime.parse(raw)
    envelope = envelope or Envelope()
    name, address, sender_note = _sender(mail, envelope, account)
    own = account.own_addresses if account else []
    reason = threads.automated_reason(mail, own, account.domain if account else "")
    bounced = threads.bounced_message_id(mail) if reason else None
    notes = [*mail.unsupported, *([sender_note] if sender_note else [])]
    message = InboundMessage(
        sender_kind="email",
        sender_value=address,
        sender_name=name,
        text=_display_text(mail),
        html=_display_html(mail),
        subject=mail.subject,
        external_id=mail.message_id or _synthetic_id(raw),
        reply_token=threads.reply_token([*envelope.rcpt_tos, *mail.recipients]),
        in_reply_to=[*mail.in_reply_to, *mail.references, *([bounced] if bounced else [])],
        attachments=[*_attachments(mail), _original(raw, max_original_bytes)],
        received_at=mail.date,
        unsupported="; ".join(notes) or None,
        automated=reason is not None,
        extra={"automated_reason": reason} if reason else {},
    )
    items: list[Inbound] = [message]
    if bounced and (mail.report is None or mail.report.failed):
        error = (mail.report.diagnostic if mail.report else "") or "the message bounced"
        items.append(DeliveryUpdate(external_id=bounced, status="failed", error=error[:500]))
    if reason:
        log.info("automated mail %s (%s)", message.external_id, reason)
    return items


def _sender(
    mail: mime.ParsedMail, envelope: Envelope, account: EmailAccount | None
) -> tuple[str, str, str | None]:
    """(name, address, note): From, else Sender / Reply-To / Return-Path, else the SMTP
    envelope; a mail with no readable sender is kept under a placeholder address."""
    candidates = [mail.sender] if mail.sender else []
    if envelope.mail_from:
        candidates.append(("", envelope.mail_from))
    for name, address in candidates:
        try:
            return name, identity_of("email", address)[1], None
        except ValueError:
            continue
    domain = account.domain if account else "localhost.localdomain"
    raw_from = mail.headers.get("from", "")[:200]
    return "", f"unknown-sender@{domain}", f"the sender address could not be read: {raw_from!r}"


def _display_text(mail: mime.ParsedMail) -> str:
    if _FORWARD_SUBJECT.match(mail.subject):
        return mail.text.strip()
    return quotes.strip_text(mail.text)


def _display_html(mail: mime.ParsedMail) -> str | None:
    if not mail.html.strip():
        return None
    if _FORWARD_SUBJECT.match(mail.subject):
        return mail.html
    return quotes.strip_html(mail.html)


def _synthetic_id(raw: bytes) -> str:
    """A mail without a Message-ID still gets a stable id, so a second delivery of the same
    bytes (an IMAP refetch after a crash) is recognised."""
    return f"<{hashlib.sha256(raw).hexdigest()[:40]}@missing-message-id.kefu>"


def _attachments(mail: mime.ParsedMail) -> list[InboundAttachment]:
    return [
        InboundAttachment(p.filename, p.content_type, p.data, p.content_id)
        for p in mail.attachments
    ]


def _original(raw: bytes, limit: int | None) -> InboundAttachment:
    data = raw if limit is None or len(raw) <= limit else reduced_original(raw, limit)
    return InboundAttachment(ORIGINAL_NAME, "message/rfc822", data)


def reduced_original(raw: bytes, limit: int) -> bytes:
    """The original with its largest parts replaced by a note until it fits the limit:
    every header and every small part (the text) is still there."""
    try:
        message = BytesParser(policy=policy.compat32).parsebytes(raw)
        leaves = [p for p in message.walk() if not p.is_multipart()]
        leaves.sort(key=lambda p: len(str(p.get_payload())), reverse=True)
        for part in leaves:
            size = len(str(part.get_payload()))
            label = part.get_filename() or part.get_content_type()
            del part["Content-Transfer-Encoding"]
            part.set_type("text/plain")
            part.set_payload(f"[removed by kefu: {label}, {size} bytes encoded, over the limit]")
            data = message.as_bytes()
            if len(data) <= limit:
                return data
    except Exception as exc:  # fall back to the headers alone
        log.warning("could not reduce an oversized original: %s", exc)
    note = b"\r\n\r\n[removed by kefu: the body was over the attachment limit]\r\n"
    return mime.header_bytes(raw)[: max(limit - len(note), 0)] + note


# -- the async entry point ---------------------------------------------------------------------
async def email_account(runtime: Runtime, account_id: int | None) -> EmailAccount | None:
    if account_id is None:
        return None
    config = await delivery.account_config(runtime, account_id)
    if config.kind != CHANNEL:
        raise ValueError(f"channel account {account_id} is a {config.kind} account, not email")
    return account_from(config.settings, config.id)


async def ingest_raw(
    runtime: Runtime,
    raw: bytes,
    account_id: int | None,
    envelope: Envelope | None = None,
    account: EmailAccount | None = None,
) -> list[IngestResult]:
    """Parse (a large mail in a thread), then the shared inbound pipeline."""
    if account is None:
        account = await email_account(runtime, account_id)
    limit = runtime.settings.max_attachment_bytes
    if len(raw) <= INLINE_PARSE_BYTES:  # a fraction of a millisecond: not worth a thread hop
        items = to_items(raw, account, envelope, limit)
    else:
        items = await anyio.to_thread.run_sync(to_items, raw, account, envelope, limit)
    try:
        return await delivery.receive(runtime, CHANNEL, items, account_id)
    except IntegrityError:
        # another kefu process created the same customer or message a moment ago: the
        # second try finds it (receive is idempotent: same files, same external ids)
        log.info("retrying mail %s after a concurrent insert", items[0])
        return await delivery.receive(runtime, CHANNEL, items, account_id)
