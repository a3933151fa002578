"""Moving messages between kefu and the channels, outside any request.

``receive`` is the async inbound pipeline every adapter's entry point (webhook, IMAP poller,
SMTP listener, chat socket, ``kefu mail ingest``) calls: attachments are written to the file
store first (never inside the writer's transaction), then one write job ingests the message.

``send_message`` is the outbox handler of kind ``channel.send``: it sends an agent's reply
through the adapter of the message's channel and records the vendor's id and status (in the
write that marks the outbox item sent). A failure raises, so the outbox retries with
back-off; when the outbox gives up, the message is marked failed (``mark_dead``), never
silently dropped.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from weakref import WeakKeyDictionary

import anyio

from kefu.channels import service
from kefu.channels.base import (
    ADAPTERS,
    ChannelAdapter,
    DeliveryUpdate,
    Inbound,
    InboundAttachment,
    InboundMessage,
    MediaDownloader,
    OutboundMessage,
    SendRejected,
    SendResult,
    adapter_for,
)
from kefu.channels.schemas import IngestResult
from kefu.customers import service as customers
from kefu.db import Ctx, Database
from kefu.events import Event
from kefu.kit.cache import TTLCache
from kefu.kit.crypto import SecretBox
from kefu.kit.errors import DomainError
from kefu.kit.files import StoredFile, path_for, store
from kefu.outbox.service import Delivered
from kefu.tickets import conversation

if TYPE_CHECKING:
    from kefu.runtime import Runtime

log = logging.getLogger(__name__)
SEND_KIND = "channel.send"
# How long a process trusts an account's settings it read (inbound mail and messages would
# otherwise read and decrypt them once each). A change made in this process clears them at
# once (the channel.account_* events); another process sees it within this time.
ACCOUNT_CACHE_S = 5.0
_account_caches: WeakKeyDictionary[Database, TTLCache[tuple[int, str], service.AccountConfig]]
_account_caches = WeakKeyDictionary()
# Files of a message up to this size in all are written from the event loop: writing a few
# kilobytes to the page cache (a mail's original, a small image) takes less time than the
# hop to a worker thread and back costs the loop (measured on the email bench: the hop was
# 6 % of the CPU, the writing 4 %).
INLINE_STORE_BYTES = 64_000


def secret_box(runtime: Runtime) -> SecretBox:
    return SecretBox(runtime.secret_key)


async def account_config(runtime: Runtime, account_id: int) -> service.AccountConfig:
    """``service.account_config`` read at most once per ``ACCOUNT_CACHE_S`` per process."""
    cache = _account_caches.get(runtime.db)
    if cache is None:
        cache = _account_caches[runtime.db] = TTLCache(ACCOUNT_CACHE_S, max_entries=1_000)
        runtime.bus.subscribe("channel.account_*", cache.clear)
    key = (account_id, runtime.secret_key)
    config = cache.get(key)
    if config is None:
        config = await runtime.db.read(service.account_config, secret_box(runtime), account_id)
        cache.put(key, config)
    return config


async def receive(
    runtime: Runtime, channel: str, items: list[Inbound], account_id: int | None = None
) -> list[IngestResult]:
    adapter = adapter_for(channel)
    if adapter is None:
        raise ValueError(f"no channel adapter named {channel}")
    account = None if account_id is None else await account_config(runtime, account_id)
    results: list[IngestResult] = []
    for item in items:
        if isinstance(item, DeliveryUpdate):
            await runtime.db.write(apply_delivery_update, channel, item)
        elif isinstance(item, InboundMessage):
            # The write job recognises a redelivery by its external id in any case; reading
            # first only pays where it saves fetching the vendor's media again.
            seen = await runtime.db.read(_seen, channel, item.external_id) if item.media else None
            if seen is not None:
                results.append(seen)
                continue
            item = await _download(adapter, item, account.settings if account else {})
            item, files, inline = await _store_files(runtime, item)
            # sanitising and converting the bodies is done here, not while holding the lock
            bodies = service.message_bodies(item)
            results.append(
                await runtime.db.write(
                    service.ingest,
                    account,
                    channel,
                    adapter.thread_mode,
                    item,
                    files,
                    inline,
                    bodies=bodies,
                )
            )
        else:
            await item.apply(runtime, account_id)
    return results


def _seen(ctx: Ctx, channel: str, external_id: str | None) -> IngestResult | None:
    found = conversation.find_by_external_id(ctx, channel, external_id) if external_id else None
    if found is None:
        return None
    return IngestResult(
        ticket_id=found[1], message_id=found[0], created_ticket=False, duplicate=True
    )


async def _download(
    adapter: ChannelAdapter, item: InboundMessage, config: Mapping[str, Any]
) -> InboundMessage:
    """Fetch the files the vendor keeps; one that cannot be fetched is named in the text."""
    if not item.media or not isinstance(adapter, MediaDownloader):
        return item
    fetched: list[InboundAttachment] = []
    notes: list[str] = []
    for media in item.media:
        try:
            fetched.append(await adapter.download(media, config))
        except Exception as exc:  # the vendor's outage must not lose the message itself
            log.warning("%s media %s not downloaded: %s", adapter.name, media.ref, exc)
            notes.append(f"[attachment {media.filename} could not be downloaded: {exc}]")
    text = "\n".join([item.text, *notes]).strip()
    return replace(item, attachments=[*item.attachments, *fetched], media=[], text=text)


async def _store_files(
    runtime: Runtime, item: InboundMessage
) -> tuple[InboundMessage, list[tuple[str, StoredFile]], dict[str, str]]:
    """Keep what passes the limits; what does not is named in the message, not lost silently.
    Also returns the inline images kept: content id → sha256."""
    if not item.attachments:
        return item, [], {}
    settings = runtime.settings
    args = (settings.attachments_dir, item.attachments, settings.max_attachment_bytes)
    if sum(len(a.data) for a in item.attachments) <= INLINE_STORE_BYTES:
        outcomes = _store_all(*args)
    else:
        outcomes = await anyio.to_thread.run_sync(_store_all, *args)
    kept: list[tuple[str, StoredFile]] = []
    inline: dict[str, str] = {}
    notes: list[str] = []
    for a, stored in zip(item.attachments, outcomes, strict=True):
        if isinstance(stored, DomainError):
            notes.append(
                f"[attachment {a.filename} ({len(a.data)} bytes) was not kept: {stored.detail}]"
            )
            continue
        kept.append((a.filename[:255] or "attachment", stored))
        if a.content_id:
            inline[a.content_id] = stored.sha256
    if notes:
        item = replace(item, text="\n".join([item.text, *notes]).strip())
    return item, kept, inline


def _store_all(
    root: Path, attachments: list[InboundAttachment], limit: int
) -> list[StoredFile | DomainError]:
    """Every file of a message, in one trip to a worker thread when they are large (a mail
    has its original and often a file or two: a thread hop each cost more than the writing)."""
    outcomes: list[StoredFile | DomainError] = []
    for a in attachments:
        try:
            outcomes.append(store(root, io.BytesIO(a.data), a.content_type, limit))
        except DomainError as exc:
            outcomes.append(exc)
    return outcomes


def apply_delivery_update(ctx: Ctx, channel: str, update: DeliveryUpdate) -> None:
    found = conversation.find_by_external_id(ctx, channel, update.external_id)
    if found is None:
        log.info("delivery update for unknown %s message %s", channel, update.external_id)
        return
    conversation.set_delivery(ctx, found[0], update.status, error=update.error)


# -- outbound ----------------------------------------------------------------------------------
class SettledSends(Protocol):
    """An adapter that may have sent a reply before the outbox asks it to (web chat: the
    reply reaches the visitor when it commits). ``settled_send`` returns that send's result
    once, for the outbox's record, without the plan's reads; None when it did not."""

    def settled_send(self, message_id: int) -> SendResult | None: ...


@dataclass(frozen=True)
class Plan:
    channel: str
    account_id: int | None
    settings: dict[str, Any]
    message: OutboundMessage
    files: list[tuple[str, str, str]]  # (filename, content type, sha256) to read from the store


def plan_delivery(ctx: Ctx, box: SecretBox, message_id: int, *, with_settings: bool = True) -> Plan:
    """``with_settings`` False: the plan's ``settings`` are left empty for the caller to
    fill (``send_message`` takes them from the process's account cache)."""
    view = conversation.outbound_view(ctx, message_id)
    adapter = adapter_for(view.channel)
    if adapter is None:
        raise RuntimeError(f"channel {view.channel} cannot send")
    thread = service.thread_row(ctx, view.ticket_id)
    if thread is not None and thread.channel == view.channel:
        account_id, to = thread.account_id, thread.remote
    else:
        account_id = service.default_account(ctx, view.channel)
        kinds = (adapter.identity_kind, *getattr(adapter, "address_kinds", ()))
        to = _address(ctx, view.requester_id, kinds)
    settings = {}
    if account_id and with_settings:
        settings = service.account_config(ctx, box, account_id).settings
    thread_data = dict(thread.data or {}) if thread else {}
    thread_data["reply_token"] = thread.reply_token if thread else None
    # what the reply answers, for channels that thread (email In-Reply-To)
    thread_data["last_inbound_id"] = conversation.last_customer_external_id(
        ctx, view.ticket_id, view.channel
    )
    message = OutboundMessage(
        ticket_id=view.ticket_id,
        message_id=message_id,
        to=to,
        text=view.text,
        html=view.html,
        subject=view.subject,
        attachments=[],
        thread=thread_data,
    )
    return Plan(view.channel, account_id, settings, message, view.attachments)


def _address(ctx: Ctx, customer_id: int, kinds: tuple[str, ...]) -> str:
    """The customer's first address of the adapter's kind, else of a kind it also reaches
    (a WhatsApp number is a phone number)."""
    for kind in kinds:
        values = customers.identity_values(ctx, customer_id, kind)
        if values:
            return values[0]
    raise SendRejected(f"the customer has no {' or '.join(kinds)} address to reply to")


async def send_message(runtime: Runtime, payload: dict[str, Any]) -> Delivered:
    message_id = int(payload["message_id"])
    settled = _settled(message_id)
    if settled is not None:  # nothing to plan, read or send: only the record to write
        return _delivered(message_id, None, settled)
    box = secret_box(runtime)
    plan = await runtime.db.read(plan_delivery, box, message_id, with_settings=False)
    if plan.account_id:  # read and decrypted at most once per ACCOUNT_CACHE_S, not per send
        plan = replace(plan, settings=(await account_config(runtime, plan.account_id)).settings)
    root = runtime.settings.attachments_dir
    attachments = [
        (name, ctype, path_for(root, sha).read_bytes()) for name, ctype, sha in plan.files
    ]
    adapter = adapter_for(plan.channel)
    assert adapter is not None
    result = await adapter.send(replace(plan.message, attachments=attachments), plan.settings)
    return _delivered(message_id, plan.message.ticket_id, result)


def _settled(message_id: int) -> SendResult | None:
    """The result of a send an adapter has already made without the outbox (``SettledSends``:
    web chat numbers an agent's reply in the transaction that writes it), else None."""
    for adapter in ADAPTERS.values():
        settled = getattr(adapter, "settled_send", None)  # SettledSends; no isinstance cost
        result = settled(message_id) if settled is not None else None
        if result is not None:
            return result
    return None


def _delivered(message_id: int, ticket_id: int | None, result: SendResult) -> Delivered:
    record = partial(
        _sent,
        message_id=message_id,
        ticket_id=ticket_id,
        status=result.status,
        external_id=result.external_id,
        thread=dict(result.thread or {}),
    )
    # written with the outbox's mark, in one transaction
    return Delivered({"external_id": result.external_id, "status": result.status}, record)


def _sent(
    ctx: Ctx,
    message_id: int,
    ticket_id: int | None,
    status: str,
    external_id: str | None,
    thread: dict[str, Any],
) -> None:
    conversation.set_delivery(ctx, message_id, status, external_id=external_id)
    if ticket_id is not None:
        service.update_thread(ctx, ticket_id, thread)


def mark_dead(runtime: Runtime) -> Any:
    """When the outbox gives up on a send, the message shows failed with the last error."""

    async def handler(event: Event) -> None:
        if event.payload.get("kind") != SEND_KIND:
            return
        message_id = int(event.payload["payload"]["message_id"])
        await runtime.db.write(
            conversation.set_delivery,
            message_id,
            "failed",
            None,
            str(event.payload.get("error", "")),
        )

    return handler
