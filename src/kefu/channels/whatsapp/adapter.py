"""The WhatsApp Cloud API adapter.

Inbound: Meta verifies the callback URL with a GET challenge (``hub.verify_token``), then
POSTs ``whatsapp_business_account`` notifications signed with the app secret
(``X-Hub-Signature-256``). Each ``messages`` change carries customer messages and the
statuses of messages kefu sent. Media stays at Meta: ``download`` asks the Graph API for a
short-lived URL of the media id, then fetches it with the access token.

Outbound: ``POST /{phone-number-id}/messages`` with the access token; files are first
uploaded to ``/{phone-number-id}/media``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
import orjson

from kefu.channels.base import (
    InboundAttachment,
    OutboundMessage,
    RemoteMedia,
    SendResult,
    ThreadMode,
    WebhookReply,
    WebhookRequest,
    register,
)
from kefu.channels.vendor import VendorHTTP, hmac_hex, json_body, refuse_or_retry, same, setting
from kefu.channels.whatsapp.inbound import parse_notification

log = logging.getLogger(__name__)
GRAPH_URL = "https://graph.facebook.com"
API_VERSION = "v21.0"
# Throttling and Meta-side outages: worth another try. Every other refusal is final.
RETRY_CODES = frozenset({1, 2, 4, 17, 80007, 130429, 131000, 131016, 131056, 133004})
# The media types WhatsApp shows inline; any other file goes as a document.
SENDABLE_AS = {
    "image/jpeg": "image",
    "image/png": "image",
    "video/mp4": "video",
    "video/3gpp": "video",
    **{f"audio/{t}": "audio" for t in ("aac", "amr", "mpeg", "mp4", "ogg")},
}


class WhatsAppAdapter(VendorHTTP):
    name: ClassVar[str] = "whatsapp"
    thread_mode: ClassVar[ThreadMode] = "conversation"
    identity_kind: ClassVar[str] = "whatsapp"
    address_kinds: ClassVar[tuple[str, ...]] = ("phone",)
    secret_fields: ClassVar[tuple[str, ...]] = ("app_secret", "access_token", "verify_token")

    def verify(self, request: WebhookRequest, config: Mapping[str, Any]) -> bool:
        if request.method == "GET":
            expected = str(config.get("verify_token") or "")
            given = request.query.get("hub.verify_token", "")
            return (
                bool(expected)
                and request.query.get("hub.mode") == "subscribe"
                and same(given, expected)
            )
        secret = str(config.get("app_secret") or "")
        signature = request.headers.get("x-hub-signature-256", "")
        return bool(secret) and same(signature, "sha256=" + hmac_hex(secret, request.body))

    def parse_inbound(
        self, request: WebhookRequest, config: Mapping[str, Any]
    ) -> tuple[list[Any], WebhookReply]:
        if request.method == "GET":
            return [], WebhookReply(body=request.query.get("hub.challenge", "").encode())
        try:
            payload = orjson.loads(request.body)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from exc
        return parse_notification(payload, str(config.get("phone_number_id") or "")), WebhookReply()

    async def download(self, media: RemoteMedia, config: Mapping[str, Any]) -> InboundAttachment:
        async with self.client(headers=_auth(config)) as http:
            meta = await http.get(f"{_graph(config)}/{media.ref}")
            found = _checked(meta, "media lookup")
            blob = await http.get(str(found["url"]))
            blob.raise_for_status()
        content_type = str(found.get("mime_type") or media.content_type)
        return InboundAttachment(media.filename, content_type.split(";")[0], blob.content)

    async def send(self, message: OutboundMessage, config: Mapping[str, Any]) -> SendResult:
        to = message.to.lstrip("+")
        number = setting(config, "phone_number_id")
        async with self.client(headers=_auth(config)) as http:
            # Upload every file first: a failed upload then sends nothing twice on retry.
            media = [
                (name, ctype, await self._upload(http, config, name, ctype, data))
                for name, ctype, data in message.attachments
            ]
            ids = []
            if message.text.strip():
                ids.append(await self._post(http, config, number, _text(to, message.text)))
            for name, ctype, media_id in media:
                ids.append(
                    await self._post(http, config, number, _media(to, name, ctype, media_id))
                )
        return SendResult(external_id=ids[0] if ids else None)

    async def _post(
        self, http: httpx.AsyncClient, config: Mapping[str, Any], number: str, body: dict[str, Any]
    ) -> str:
        response = await http.post(f"{_graph(config)}/{number}/messages", json=body)
        return str(_checked(response, "send")["messages"][0]["id"])

    async def _upload(
        self, http: httpx.AsyncClient, config: Mapping[str, Any], name: str, ctype: str, data: bytes
    ) -> str:
        number = setting(config, "phone_number_id")
        response = await http.post(
            f"{_graph(config)}/{number}/media",
            data={"messaging_product": "whatsapp", "type": ctype},
            files={"file": (name, data, ctype)},
        )
        return str(_checked(response, "media upload")["id"])


def _graph(config: Mapping[str, Any]) -> str:
    base = str(config.get("graph_url") or GRAPH_URL).rstrip("/")
    return f"{base}/{config.get('api_version') or API_VERSION}"


def _auth(config: Mapping[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {setting(config, 'access_token')}"}


def _checked(response: httpx.Response, what: str) -> dict[str, Any]:
    """The Graph API's answer, or its error turned into a retry or a final refusal."""
    body = json_body(response)
    if response.is_success and "error" not in body:
        return body
    error = body.get("error") or {}
    code = error.get("code")
    details = (error.get("error_data") or {}).get("details") or error.get("message") or ""
    reason = f"WhatsApp {what} failed ({response.status_code}, code {code}): {details}".strip()
    if code in RETRY_CODES:
        raise RuntimeError(reason)
    raise refuse_or_retry(response.status_code, reason)


def _text(to: str, text: str) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"preview_url": False, "body": text[:4096]},
    }


def _media(to: str, name: str, ctype: str, media_id: str) -> dict[str, Any]:
    kind = SENDABLE_AS.get(ctype, "document")
    content: dict[str, Any] = {"id": media_id}
    if kind == "document":
        content["filename"] = name
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": kind,
        kind: content,
    }


register(WhatsAppAdapter())
