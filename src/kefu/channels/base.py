"""The ChannelAdapter protocol and the registry of adapters by name.

The conversation core (tickets, routing, rules) never imports a concrete channel: it asks
this registry whether a channel can send, and the outbox handler in ``channels.delivery``
hands outbound messages to the adapter by name. Adapters register themselves when their
module is imported (``channels.load_adapters``).

Inbound, an adapter turns a vendor's request into ``Inbound`` items (messages, or delivery
updates of messages kefu sent); ``channels.service.ingest`` does the rest the same way for
every channel: identity resolution, threading onto a ticket, de-duplication, attachments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

from kefu.outbox.service import PermanentFailure

if TYPE_CHECKING:
    from kefu.runtime import Runtime

# email: reply token, references, guarded subject match; conversation: the customer's current
# ticket on the channel; ticket: every message opens a new ticket (a web form submission).
ThreadMode = Literal["email", "conversation", "ticket"]


@dataclass(frozen=True)
class InboundAttachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None  # inline images referenced as cid: in HTML


@dataclass(frozen=True)
class RemoteMedia:
    """A file the vendor keeps (a WhatsApp media id, a Telegram file id, an MMS URL): the
    adapter's ``download`` fetches it before the message is stored."""

    ref: str
    filename: str
    content_type: str = "application/octet-stream"


@dataclass
class InboundMessage:
    """One message a customer sent on a channel, normalised."""

    sender_kind: str  # identity kind: email, phone, whatsapp, telegram, wechat, webchat
    sender_value: str
    sender_name: str = ""
    text: str = ""
    html: str | None = None
    subject: str | None = None
    external_id: str | None = None  # the vendor's message id: the same id is stored once
    # Threading hints, strongest first: a ticket named by a reply token, then the external
    # ids this message answers (email In-Reply-To / References), then the mode's fallback.
    reply_ticket_id: int | None = None
    reply_token: str | None = None  # e.g. from support+t-<token>@ in the recipient address
    in_reply_to: list[str] = field(default_factory=list)
    attachments: list[InboundAttachment] = field(default_factory=list)
    media: list[RemoteMedia] = field(default_factory=list)  # still at the vendor
    team_id: int | None = None  # the team a new ticket goes to, instead of the account's
    received_at: datetime | None = None
    unsupported: str | None = None  # a message type kefu cannot show: kept, described
    automated: bool = False  # auto-replies, bounces, bulk: stored, never answered
    language: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryUpdate:
    """The vendor's news about a message kefu sent: delivered, read, failed."""

    external_id: str
    status: Literal["sent", "delivered", "read", "failed"]
    error: str | None = None


@runtime_checkable
class InboundAction(Protocol):
    """Anything else a channel reports (a call event, a follow): the adapter's own code
    applies it, after the request was verified."""

    async def apply(self, runtime: Runtime, account_id: int | None) -> None: ...


Inbound = InboundMessage | DeliveryUpdate | InboundAction


class SendRejected(PermanentFailure):
    """The vendor refused a message for a reason a retry cannot fix (the customer blocked
    the bot, the reply window closed): the outbox marks it failed at once."""


@dataclass(frozen=True)
class OutboundMessage:
    ticket_id: int
    message_id: int
    to: str  # the customer's address on this channel (email, phone, chat id, openid)
    text: str
    html: str
    subject: str
    attachments: list[tuple[str, str, bytes]]  # (filename, content type, data)
    thread: Mapping[str, Any]  # what the channel keeps about the conversation


@dataclass(frozen=True)
class SendResult:
    external_id: str | None
    status: Literal["sent", "delivered"] = "sent"
    thread: Mapping[str, Any] | None = None  # updates to keep (e.g. the email Message-ID)


@dataclass(frozen=True)
class WebhookRequest:
    method: str
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str]
    body: bytes
    url: str


@dataclass(frozen=True)
class WebhookReply:
    """What to answer the vendor (a verification challenge, an empty 200, XML...)."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"


@runtime_checkable
class ChannelAdapter(Protocol):
    name: ClassVar[str]
    thread_mode: ClassVar[ThreadMode]
    identity_kind: ClassVar[str]
    secret_fields: ClassVar[tuple[str, ...]]

    def verify(self, request: WebhookRequest, config: Mapping[str, Any]) -> bool:
        """True when the request really comes from the vendor (signature, token)."""
        ...

    def parse_inbound(
        self, request: WebhookRequest, config: Mapping[str, Any]
    ) -> tuple[list[Inbound], WebhookReply]:
        """The items in a verified request and the answer the vendor expects.
        Raises ValueError for a malformed payload."""
        ...

    async def send(self, message: OutboundMessage, config: Mapping[str, Any]) -> SendResult:
        """Deliver one message; raise to have the outbox retry it."""
        ...


@runtime_checkable
class MediaDownloader(Protocol):
    """Adapters whose messages carry ``RemoteMedia`` also fetch it."""

    async def download(
        self, media: RemoteMedia, config: Mapping[str, Any]
    ) -> InboundAttachment: ...


ADAPTERS: dict[str, ChannelAdapter] = {}


def register(adapter: ChannelAdapter) -> ChannelAdapter:
    ADAPTERS[adapter.name] = adapter
    return adapter


def adapter_for(name: str) -> ChannelAdapter | None:
    return ADAPTERS.get(name)


def can_send(channel: str) -> bool:
    """Adapters that only receive (a web form, a PBX) say ``sends = False``."""
    adapter = ADAPTERS.get(channel)
    return adapter is not None and bool(getattr(adapter, "sends", True))


def reply_channel(channel: str) -> str:
    """Where replies to a message of this channel go: a web form's by email (``reply_via``)."""
    return str(getattr(ADAPTERS.get(channel), "reply_via", None) or channel)
