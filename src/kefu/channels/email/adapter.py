"""The email ``ChannelAdapter``: registered as ``email`` (threading by reply token,
Message-ID references and a guarded subject match; replies addressed by email identity).

Its webhook (``/api/v1/channels/email/<account>/webhook``) takes one raw RFC 822 message
as the POST body, for MTAs or mail services that deliver over HTTP; the request must carry
the account's ``webhook_token`` secret in ``X-Kefu-Token``.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any, ClassVar

from kefu.channels.base import (
    Inbound,
    OutboundMessage,
    SendResult,
    ThreadMode,
    WebhookReply,
    WebhookRequest,
    register,
)
from kefu.channels.email import inbound, sender
from kefu.channels.email.account import SECRET_FIELDS, account_from


class EmailAdapter:
    name: ClassVar[str] = "email"
    thread_mode: ClassVar[ThreadMode] = "email"
    identity_kind: ClassVar[str] = "email"
    secret_fields: ClassVar[tuple[str, ...]] = SECRET_FIELDS

    def verify(self, request: WebhookRequest, config: Mapping[str, Any]) -> bool:
        expected = str(config.get("webhook_token") or "")
        given = request.headers.get("x-kefu-token", "")
        return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())

    def parse_inbound(
        self, request: WebhookRequest, config: Mapping[str, Any]
    ) -> tuple[list[Inbound], WebhookReply]:
        if request.method != "POST" or not request.body.strip():
            raise ValueError("POST one raw RFC 822 message as the body")
        items = inbound.to_items(request.body, account_from(config))
        return items, WebhookReply(202, b"accepted")

    async def send(self, message: OutboundMessage, config: Mapping[str, Any]) -> SendResult:
        return await sender.send(message, config)


register(EmailAdapter())
