"""The web form as a channel: every submission is a new ticket; replies go by email to the
address the customer gave. Submissions come only through the form's own endpoint (honeypot
and rate limits), never through the generic vendor webhook."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from kefu.channels.base import (
    Inbound,
    OutboundMessage,
    SendRejected,
    SendResult,
    ThreadMode,
    WebhookReply,
    WebhookRequest,
    register,
)


class WebformAdapter:
    name: ClassVar[str] = "webform"
    thread_mode: ClassVar[ThreadMode] = "ticket"
    identity_kind: ClassVar[str] = "email"
    secret_fields: ClassVar[tuple[str, ...]] = ()
    sends: ClassVar[bool] = False
    reply_via: ClassVar[str] = "email"

    def verify(self, request: WebhookRequest, config: Mapping[str, Any]) -> bool:
        return False  # the form posts to /api/v1/forms/{id}, not to a webhook

    def parse_inbound(
        self, request: WebhookRequest, config: Mapping[str, Any]
    ) -> tuple[list[Inbound], WebhookReply]:
        raise ValueError("the web form has no webhook")

    async def send(self, message: OutboundMessage, config: Mapping[str, Any]) -> SendResult:
        raise SendRejected("replies to a web form go out by email")


register(WebformAdapter())
