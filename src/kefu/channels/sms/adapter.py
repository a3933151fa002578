"""The SMS adapter, speaking Twilio's Programmable Messaging API (and the providers that
copy it).

Inbound: Twilio POSTs form-encoded parameters to the number's webhook, signed with the
account's auth token: ``X-Twilio-Signature`` is base64(HMAC-SHA1(URL + each parameter name
and value, sorted by name)). The same URL receives the status callbacks of messages kefu
sent. MMS media are URLs at Twilio, fetched with the account's credentials.

Outbound: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with basic auth.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import httpx

from kefu.channels.base import (
    DeliveryUpdate,
    Inbound,
    InboundAttachment,
    InboundMessage,
    OutboundMessage,
    RemoteMedia,
    SendResult,
    ThreadMode,
    WebhookReply,
    WebhookRequest,
    register,
)
from kefu.channels.vendor import (
    VendorHTTP,
    hmac_b64,
    json_body,
    media_filename,
    refuse_or_retry,
    same,
    setting,
)

API_URL = "https://api.twilio.com"
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
STATUSES = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",
}
ERRORS = {  # the carrier errors agents meet most; others show their code
    "21610": "the recipient replied STOP (unsubscribed)",
    "30003": "unreachable destination handset",
    "30004": "message blocked",
    "30005": "unknown destination handset",
    "30006": "landline or unreachable carrier",
    "30007": "filtered as spam by the carrier",
    "30008": "unknown error",
}


class SmsAdapter(VendorHTTP):
    name: ClassVar[str] = "sms"
    thread_mode: ClassVar[ThreadMode] = "conversation"
    identity_kind: ClassVar[str] = "phone"
    address_kinds: ClassVar[tuple[str, ...]] = ("whatsapp",)
    secret_fields: ClassVar[tuple[str, ...]] = ("auth_token",)

    def verify(self, request: WebhookRequest, config: Mapping[str, Any]) -> bool:
        token = str(config.get("auth_token") or "")
        given = request.headers.get("x-twilio-signature", "")
        if not token or not given:
            return False
        params = sorted(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        signed = "".join(k + v for k, v in params).encode()
        # Behind a proxy kefu sees another URL than Twilio called: the public one counts.
        urls = {str(config.get("webhook_url") or ""), request.url} - {""}
        return any(same(given, hmac_b64(token, url.encode() + signed)) for url in urls)

    def parse_inbound(
        self, request: WebhookRequest, config: Mapping[str, Any]
    ) -> tuple[list[Inbound], WebhookReply]:
        params = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        sid = params.get("MessageSid") or params.get("SmsSid")
        if not sid:
            raise ValueError("no MessageSid")
        status = params.get("MessageStatus") or params.get("SmsStatus") or "received"
        reply = WebhookReply(body=EMPTY_TWIML, content_type="text/xml")
        if status in ("received", "receiving"):
            return [_message(sid, params)], reply
        if status not in STATUSES:
            return [], reply  # queued, accepted, sending: kefu already shows queued
        error = _error(params) if STATUSES[status] == "failed" else None
        return [DeliveryUpdate(sid, STATUSES[status], error)], reply  # type: ignore[arg-type]

    async def download(self, media: RemoteMedia, config: Mapping[str, Any]) -> InboundAttachment:
        async with self.client(auth=_auth(config)) as http:
            response = await http.get(media.ref)
            response.raise_for_status()
        ctype = response.headers.get("content-type", media.content_type).split(";")[0]
        return InboundAttachment(media.filename, ctype, response.content)

    async def send(self, message: OutboundMessage, config: Mapping[str, Any]) -> SendResult:
        form = {"To": message.to, "Body": _body(message)}
        if config.get("messaging_service_sid"):
            form["MessagingServiceSid"] = str(config["messaging_service_sid"])
        else:
            form["From"] = setting(config, "address")
        if config.get("webhook_url"):
            form["StatusCallback"] = str(config["webhook_url"])
        base = str(config.get("api_url") or API_URL).rstrip("/")
        url = f"{base}/2010-04-01/Accounts/{setting(config, 'account_sid')}/Messages.json"
        async with self.client(auth=_auth(config)) as http:
            response = await http.post(url, data=form)
        body = json_body(response)
        if not response.is_success or "sid" not in body:
            code, text = body.get("code", response.status_code), body.get("message", response.text)
            reason = f"Twilio refused the message ({code}): {str(text)[:200]}"
            raise refuse_or_retry(response.status_code, reason)
        return SendResult(external_id=str(body["sid"]))


def _auth(config: Mapping[str, Any]) -> httpx.BasicAuth:
    return httpx.BasicAuth(setting(config, "account_sid"), setting(config, "auth_token"))


def _message(sid: str, params: dict[str, str]) -> InboundMessage:
    sender = params.get("From", "")
    if not sender:
        raise ValueError("no From")
    item = InboundMessage(
        sender_kind="phone", sender_value=sender, text=params.get("Body", ""), external_id=sid
    )
    try:
        count = int(params.get("NumMedia") or 0)
    except ValueError as exc:
        raise ValueError("NumMedia is not a number") from exc
    for i in range(min(count, 10)):
        url, ctype = params.get(f"MediaUrl{i}"), params.get(f"MediaContentType{i}", "")
        if url:
            name = media_filename(f"media-{i + 1}", ctype or "application/octet-stream")
            item.media.append(RemoteMedia(url, name, ctype or "application/octet-stream"))
    return item


def _error(params: dict[str, str]) -> str:
    code = params.get("ErrorCode", "")
    described = ERRORS.get(code, params.get("ErrorMessage", ""))
    status = params.get("MessageStatus") or params.get("SmsStatus")
    return f"{status}: error {code} {described}".strip()


def _body(message: OutboundMessage) -> str:
    """SMS carries text only: files are named so the customer knows to ask for them."""
    names = ", ".join(name for name, _ctype, _data in message.attachments)
    return message.text + (f"\n[{names}]" if names else "")


register(SmsAdapter())
