"""The ``webchat`` channel adapter. Visitors' messages come in over the widget's socket,
not a webhook; agents' replies go out through ``send``, called by the outbox: the reply is
numbered in its conversation and announced, and every process's hub pushes it to the
visitor's open sockets (a widget that is closed gets it when it reconnects).

The outbox is what guarantees it; it is not what makes it fast. A reply is numbered in the
transaction that writes it (``messages.number_on_write``; else the hub numbers it as soon as
its ``message.created`` is published, ``ChatHub._number_now``), and the outbox's later send
only records it: without planning the send (no reads) when this process's hub saw the
numbering committed (``settled_send``), else ``send`` numbers it (idempotent) or finds it
numbered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from kefu.channels.base import (
    OutboundMessage,
    SendRejected,
    SendResult,
    ThreadMode,
    WebhookReply,
    WebhookRequest,
    register,
)
from kefu.channels.webchat import messages, service
from kefu.kit.errors import NotFound

if TYPE_CHECKING:
    from kefu.channels.webchat.hub import ChatHub


class WebchatAdapter:
    name: ClassVar[str] = service.CHANNEL
    thread_mode: ClassVar[ThreadMode] = "conversation"
    identity_kind: ClassVar[str] = "webchat"
    secret_fields: ClassVar[tuple[str, ...]] = ("identity_secret",)

    def __init__(self) -> None:
        self.hub: ChatHub | None = None  # the running process's hub (set by ``api.install``)

    def verify(self, request: WebhookRequest, config: Mapping[str, Any]) -> bool:
        return False  # nothing arrives by webhook

    def parse_inbound(
        self, request: WebhookRequest, config: Mapping[str, Any]
    ) -> tuple[list[Any], WebhookReply]:
        raise ValueError("web chat messages arrive over the widget's WebSocket")

    def settled_send(self, message_id: int) -> SendResult | None:
        """The outbox's send of a reply this process saw numbered (``delivery.SettledSends``):
        its result, taken once, without planning the send. A reply numbered elsewhere, or
        asked about again (a retry), goes through ``send``."""
        if self.hub is None:
            return None
        known = self.hub.take_numbered(message_id)
        if known is None:
            return None
        return SendResult(external_id=f"{known[0]}#{known[1]}", status="sent")

    async def send(self, message: OutboundMessage, config: Mapping[str, Any]) -> SendResult:
        if self.hub is None:
            raise RuntimeError("web chat is not running in this process")
        known = self.hub.numbered(message.message_id)
        if known is not None:  # the hub numbered it when it was written (the usual case)
            return SendResult(external_id=f"{known[0]}#{known[1]}", status="sent")
        try:
            numbered = await self.hub.runtime.db.write(
                messages.number_reply, message.ticket_id, message.message_id, message.to
            )
        except NotFound as exc:  # no visitor's chat to put it in: retrying cannot help
            raise SendRejected(exc.detail) from exc
        conversation, seq = numbered[0]
        return SendResult(external_id=f"{conversation}#{seq}", status="sent")


ADAPTER = WebchatAdapter()
register(ADAPTER)
