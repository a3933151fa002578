"""The Telegram Bot API adapter.

Inbound: ``setWebhook`` is called with a ``secret_token``; Telegram sends it back in the
``X-Telegram-Bot-Api-Secret-Token`` header of every update. A callback query (an inline
button press) is acknowledged in the webhook answer itself (``answerCallbackQuery``), as the
Bot API allows. Files stay at Telegram: ``getFile`` gives a path on its file server.

Outbound: ``sendMessage``, then ``sendPhoto`` for images and ``sendDocument`` for other
files. Telegram reports no delivery receipts to bots: a reply ends at ``sent``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
import orjson

from kefu.channels.base import (
    Inbound,
    InboundAttachment,
    OutboundMessage,
    RemoteMedia,
    SendResult,
    ThreadMode,
    WebhookReply,
    WebhookRequest,
    register,
)
from kefu.channels.telegram.inbound import parse_update
from kefu.channels.vendor import VendorHTTP, json_body, refuse_or_retry, same, setting

API_URL = "https://api.telegram.org"
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")


class TelegramAdapter(VendorHTTP):
    name: ClassVar[str] = "telegram"
    thread_mode: ClassVar[ThreadMode] = "conversation"
    identity_kind: ClassVar[str] = "telegram"
    secret_fields: ClassVar[tuple[str, ...]] = ("bot_token", "secret_token")

    def verify(self, request: WebhookRequest, config: Mapping[str, Any]) -> bool:
        expected = str(config.get("secret_token") or "")
        given = request.headers.get("x-telegram-bot-api-secret-token", "")
        return bool(expected) and same(given, expected)

    def parse_inbound(
        self, request: WebhookRequest, config: Mapping[str, Any]
    ) -> tuple[list[Inbound], WebhookReply]:
        try:
            update = orjson.loads(request.body)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from exc
        item, callback_id = parse_update(update)
        reply = WebhookReply()
        if callback_id:
            answer = {"method": "answerCallbackQuery", "callback_query_id": callback_id}
            reply = WebhookReply(body=orjson.dumps(answer), content_type="application/json")
        return ([item] if item is not None else []), reply

    async def download(self, media: RemoteMedia, config: Mapping[str, Any]) -> InboundAttachment:
        async with self.client() as http:
            found = await http.get(_method(config, "getFile"), params={"file_id": media.ref})
            path = _result(found, "getFile")["file_path"]
            blob = await http.get(f"{_api(config)}/file/bot{setting(config, 'bot_token')}/{path}")
            blob.raise_for_status()
        return InboundAttachment(media.filename, media.content_type, blob.content)

    async def send(self, message: OutboundMessage, config: Mapping[str, Any]) -> SendResult:
        chat = message.to
        ids: list[str] = []
        async with self.client() as http:
            if message.text.strip():
                body = {"chat_id": chat, "text": message.text[:4096]}
                sent = await http.post(_method(config, "sendMessage"), json=body)
                ids.append(f"{chat}:{_result(sent, 'sendMessage')['message_id']}")
            for name, ctype, data in message.attachments:
                method, field = (
                    ("sendPhoto", "photo") if ctype in PHOTO_TYPES else ("sendDocument", "document")
                )
                sent = await http.post(
                    _method(config, method),
                    data={"chat_id": chat},
                    files={field: (name, data, ctype)},
                )
                ids.append(f"{chat}:{_result(sent, method)['message_id']}")
        return SendResult(external_id=ids[0] if ids else None)


def _api(config: Mapping[str, Any]) -> str:
    return str(config.get("api_url") or API_URL).rstrip("/")


def _method(config: Mapping[str, Any], method: str) -> str:
    return f"{_api(config)}/bot{setting(config, 'bot_token')}/{method}"


def _result(response: httpx.Response, method: str) -> dict[str, Any]:
    body = json_body(response)
    if response.is_success and body.get("ok"):
        result: dict[str, Any] = body["result"]
        return result
    code = body.get("error_code", response.status_code)
    reason = f"Telegram {method} failed ({code}): {body.get('description', response.text[:200])}"
    raise refuse_or_retry(int(code), reason)


register(TelegramAdapter())
