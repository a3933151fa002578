"""Channel accounts, and the one inbound path every channel shares.

``ingest`` turns a normalised ``InboundMessage`` into a message on the right ticket:
de-duplicated by the vendor's id, the sender resolved to a customer by identity, threaded
(reply token, then the messages it answers, then the channel's own rule: the current
conversation for chat-like channels, a guarded subject match for email), a new ticket when
nothing matches.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from html import unescape
from typing import Any

import orjson

from kefu.channels import repository as repo
from kefu.channels.base import InboundMessage, ThreadMode, adapter_for
from kefu.channels.models import ChannelAccount, ChannelThread
from kefu.channels.schemas import (
    ChannelAccountCreate,
    ChannelAccountRead,
    ChannelAccountUpdate,
    IngestResult,
)
from kefu.customers import service as customers
from kefu.db import Ctx
from kefu.kit.crypto import SecretBox
from kefu.kit.errors import NotFound, invalid
from kefu.kit.files import StoredFile
from kefu.kit.html import html_to_text, sanitize_html, text_to_html
from kefu.kit.text import has_reply_prefix
from kefu.tickets import conversation
from kefu.tickets import service as tickets
from kefu.tickets.attachments import record_uploads
from kefu.tickets.schemas import RequesterIn, TicketCreate

CHAT_REOPEN_WINDOW_S = 3 * 24 * 3600.0
EMAIL_SUBJECT_WINDOW_S = 14 * 24 * 3600.0


# -- accounts ----------------------------------------------------------------------------------
def account_read(account: ChannelAccount, box: SecretBox) -> ChannelAccountRead:
    return ChannelAccountRead(
        id=account.id,
        kind=account.kind,
        name=account.name,
        address=account.address,
        config=dict(account.config or {}),
        secrets_set=sorted(_secrets(account, box)),
        team_id=account.team_id,
        active=account.active,
        webhook_url=f"/api/v1/channels/{account.kind}/{account.id}/webhook",
        created_at=account.created_at,
        updated_at=account.updated_at,
    )


def _secrets(account: ChannelAccount, box: SecretBox) -> dict[str, str]:
    if not account.secrets:
        return {}
    loaded: dict[str, str] = orjson.loads(box.open(account.secrets))
    return loaded


def _require_account(ctx: Ctx, account_id: int) -> ChannelAccount:
    account = repo.get_account(ctx.session, account_id)
    if account is None:
        raise NotFound("Channel account", account_id)
    return account


def create_account(ctx: Ctx, box: SecretBox, data: ChannelAccountCreate) -> ChannelAccountRead:
    if adapter_for(data.kind) is None:
        raise invalid(["body", "kind"], f"no channel named {data.kind}")
    now = ctx.now()
    account = ChannelAccount(
        kind=data.kind,
        name=data.name,
        address=data.address,
        config=data.config,
        secrets=box.seal(orjson.dumps(data.secrets).decode()) if data.secrets else "",
        team_id=data.team_id,
        active=data.active,
        created_at=now,
        updated_at=now,
    )
    repo.add(ctx.session, account)
    ctx.emit("channel.account_created", account_id=account.id, kind=account.kind)
    return account_read(account, box)


def update_account(
    ctx: Ctx, box: SecretBox, account_id: int, data: ChannelAccountUpdate
) -> ChannelAccountRead:
    account = _require_account(ctx, account_id)
    changes = data.model_dump(exclude_unset=True)
    if "secrets" in changes and changes["secrets"] is not None:
        merged = {**_secrets(account, box), **changes.pop("secrets")}
        account.secrets = box.seal(orjson.dumps({k: v for k, v in merged.items() if v}).decode())
    for key, value in changes.items():
        if value is not None or key == "team_id":
            setattr(account, key, value)
    account.updated_at = ctx.now()
    ctx.emit("channel.account_updated", account_id=account.id, kind=account.kind)
    return account_read(account, box)


def delete_account(ctx: Ctx, account_id: int) -> None:
    account = _require_account(ctx, account_id)
    kind = account.kind
    repo.delete(ctx.session, account)
    ctx.emit("channel.account_deleted", account_id=account_id, kind=kind)


def get_account(ctx: Ctx, box: SecretBox, account_id: int) -> ChannelAccountRead:
    return account_read(_require_account(ctx, account_id), box)


def list_accounts(ctx: Ctx, box: SecretBox, kind: str | None = None) -> list[ChannelAccountRead]:
    return [account_read(a, box) for a in repo.list_accounts(ctx.session, kind)]


@dataclass(frozen=True)
class AccountConfig:
    """An account as its adapter sees it: settings and decrypted secrets in one mapping."""

    id: int
    kind: str
    address: str
    team_id: int | None
    active: bool
    settings: dict[str, Any]


def account_config(ctx: Ctx, box: SecretBox, account_id: int) -> AccountConfig:
    account = _require_account(ctx, account_id)
    merged = {**(account.config or {}), **_secrets(account, box), "address": account.address}
    # The public URL the vendor calls (Twilio signs it; status callbacks are sent to it).
    path = f"/api/v1/channels/{account.kind}/{account.id}/webhook"
    merged["webhook_url"] = (
        ctx.settings.base_url.rstrip("/") + path if ctx.settings.base_url else ""
    )
    return AccountConfig(
        account.id, account.kind, account.address, account.team_id, account.active, merged
    )


# -- inbound -----------------------------------------------------------------------------------
def ingest(
    ctx: Ctx,
    account: AccountConfig | None,
    channel: str,
    mode: ThreadMode,
    item: InboundMessage,
    files: list[tuple[str, StoredFile]],
    inline: Mapping[str, str] | None = None,
    *,
    bodies: tuple[str, str] | None = None,
) -> IngestResult:
    """``inline`` maps content ids (``cid:`` links in the HTML) to the sha256 of the stored
    file: the links are pointed at the attachment's download URL. ``bodies``: the item's
    ``message_bodies``, when the caller built them outside the write job."""
    if item.external_id:
        seen = conversation.find_by_external_id(ctx, channel, item.external_id)
        if seen is not None:
            return IngestResult(
                ticket_id=seen[1], message_id=seen[0], created_ticket=False, duplicate=True
            )
    kind, value = customers.identity_of(item.sender_kind, item.sender_value)
    sender = customers.resolve_contact(ctx, kind, value, item.sender_name)
    ticket_id = _thread(ctx, channel, mode, sender.id, item)
    created = ticket_id is None
    if ticket_id is None:
        ticket_id = _open_ticket(ctx, account, channel, sender, item)
        _remember_thread(ctx, ticket_id, channel, account, value)
    uploads = record_uploads(ctx, None, [(n, f.content_type, f.size, f.sha256) for n, f in files])
    attachment_ids = [upload.id for upload in uploads]
    body_text, body_html = bodies or message_bodies(item)
    if inline:
        urls = {upload.sha256: upload.url for upload in uploads}
        body_html = link_inline_images(
            body_html, {c: urls[s] for c, s in inline.items() if s in urls}
        )
    message_id = conversation.record_customer_message(
        ctx,
        ticket_id,
        channel=channel,
        body_text=body_text,
        body_html=body_html,
        external_id=item.external_id,
        attachment_ids=attachment_ids,
        automated=item.automated,
    )
    return IngestResult(ticket_id=ticket_id, message_id=message_id, created_ticket=created)


def link_inline_images(html: str, urls: Mapping[str, str]) -> str:
    """``<img src="cid:x">`` (an inline image of the message) → the stored file's URL."""

    def url_of(match: re.Match[str]) -> str:
        return urls.get(match.group(1), urls.get(unescape(match.group(1)), match.group(0)))

    return re.sub(r"cid:([^\"'\s>]+)(?=[\"'\s>])", url_of, html, flags=re.IGNORECASE)


def _thread(
    ctx: Ctx, channel: str, mode: ThreadMode, customer_id: int, item: InboundMessage
) -> int | None:
    candidates = [
        item.reply_ticket_id,
        ticket_for_reply_token(ctx, item.reply_token) if item.reply_token else None,
        conversation.ticket_answered_by(ctx, channel, item.in_reply_to),
    ]
    if mode == "conversation":
        candidates.append(
            tickets.conversation_ticket(ctx, customer_id, channel, CHAT_REOPEN_WINDOW_S)
        )
    elif mode == "email" and item.subject and has_reply_prefix(item.subject):
        # only a mail that says it is a reply (Re:, 回复: ...): a new mail with the subject
        # of an open ticket ("Order problem" again) is a new matter
        candidates.append(
            tickets.ticket_by_subject(ctx, customer_id, item.subject, EMAIL_SUBJECT_WINDOW_S)
        )
    for candidate in candidates:
        if candidate is not None:
            ticket_id = tickets.ticket_for_replies(ctx, candidate)
            if ticket_id is not None:
                return ticket_id
    return None


def _open_ticket(
    ctx: Ctx,
    account: AccountConfig | None,
    channel: str,
    sender: customers.Contact,
    item: InboundMessage,
) -> int:
    subject = (item.subject or "").strip() or _subject_from(item.text, channel)
    created = tickets.create_ticket(
        ctx,
        None,
        TicketCreate(
            subject=subject[:300],
            requester=RequesterIn(id=sender.id),
            channel=channel,
            team_id=item.team_id or (account.team_id if account else None),
            language=item.language,
        ),
        requester=sender,
    )
    return created.id


def _subject_from(text: str, channel: str) -> str:
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first_line[:80] or f"{channel} message"


def message_bodies(item: InboundMessage) -> tuple[str, str]:
    """(text, sanitised HTML) as the message is stored."""
    text = item.text
    if item.unsupported:
        text = (text + "\n" if text else "") + f"[unsupported content: {item.unsupported}]"
    if item.html:
        html = sanitize_html(item.html)
        return (text.strip() or html_to_text(html)), html
    return text.strip(), text_to_html(text)


def _remember_thread(
    ctx: Ctx, ticket_id: int, channel: str, account: AccountConfig | None, remote: str
) -> None:
    repo.insert_thread(
        ctx.session,
        {
            "ticket_id": ticket_id,
            "channel": channel,
            "account_id": account.id if account else None,
            "remote": remote,
            "reply_token": secrets.token_hex(10),
            "data": {},
            "updated_at": ctx.now(),
        },
    )


def thread_of(ctx: Ctx, ticket_id: int) -> ChannelThread | None:
    return repo.get_thread(ctx.session, ticket_id)


def thread_row(ctx: Ctx, ticket_id: int) -> Any:
    """``thread_of`` as a row (channel, account_id, remote, data, reply_token), not an ORM
    object: what sending a reply reads."""
    return repo.thread_row(ctx.session, ticket_id)


def ticket_for_reply_token(ctx: Ctx, token: str) -> int | None:
    thread = repo.thread_by_token(ctx.session, token)
    return None if thread is None else thread.ticket_id


def update_thread(ctx: Ctx, ticket_id: int, data: dict[str, Any]) -> None:
    if not data:  # most sends (every chat reply) have nothing to add: not even a read
        return
    thread = repo.get_thread(ctx.session, ticket_id)
    if thread is not None:
        thread.data = {**(thread.data or {}), **data}
        thread.updated_at = ctx.now()


def default_account(ctx: Ctx, kind: str) -> int | None:
    """The first active account of a kind: where a reply goes when the ticket did not come
    in on that channel."""
    return next((a.id for a in repo.list_accounts(ctx.session, kind) if a.active), None)
