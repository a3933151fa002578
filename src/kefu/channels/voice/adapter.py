"""The voice (CTI) channel: a PBX posts its call events (Asterisk ARI's JSON) to the
account's webhook, authenticated by an HMAC of the body or a bearer token. Calls are not
messages: each event is applied to a call record (service.py). Replies to a caller's
ticket go out by SMS."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

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
from kefu.channels.vendor import hmac_hex, same
from kefu.channels.voice.ari import CallEvent, parse_event

if TYPE_CHECKING:
    from kefu.runtime import Runtime


@dataclass(frozen=True)
class CallUpdate:
    event: CallEvent

    async def apply(self, runtime: Runtime, account_id: int | None) -> None:
        from kefu.channels import delivery
        from kefu.channels import service as channels
        from kefu.channels.voice import service

        if account_id is None:
            raise ValueError("call events belong to a voice account")
        box = delivery.secret_box(runtime)
        account = await runtime.db.read(channels.account_config, box, account_id)
        await runtime.db.write(service.apply_event, account, self.event)


class VoiceAdapter:
    name: ClassVar[str] = "voice"
    thread_mode: ClassVar[ThreadMode] = "conversation"
    identity_kind: ClassVar[str] = "phone"
    secret_fields: ClassVar[tuple[str, ...]] = ("webhook_secret", "api_token")
    sends: ClassVar[bool] = False
    reply_via: ClassVar[str] = "sms"

    def verify(self, request: WebhookRequest, config: Mapping[str, Any]) -> bool:
        secret, token = str(config.get("webhook_secret") or ""), str(config.get("api_token") or "")
        signature = request.headers.get("x-kefu-signature", "")
        if secret and signature:
            return same(signature, "sha256=" + hmac_hex(secret, request.body))
        bearer = request.headers.get("authorization", "")
        return bool(token) and same(bearer, f"Bearer {token}")

    def parse_inbound(
        self, request: WebhookRequest, config: Mapping[str, Any]
    ) -> tuple[list[Inbound], WebhookReply]:
        if request.method != "POST":
            raise ValueError("post ARI events as JSON")
        try:
            payload = orjson.loads(request.body)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from exc
        events = payload if isinstance(payload, list) else [payload]  # one event or a batch
        parsed = [parse_event(e) for e in events]
        items: list[Inbound] = [CallUpdate(e) for e in parsed if e is not None]
        reply = WebhookReply(body=b'{"status":"ok"}', content_type="application/json")
        return items, reply

    async def send(self, message: OutboundMessage, config: Mapping[str, Any]) -> SendResult:
        raise SendRejected("a phone line carries no text; replies go by SMS")


register(VoiceAdapter())
