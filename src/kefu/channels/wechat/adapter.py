"""The WeChat Official Account adapter (微信公众号).

Inbound: WeChat checks the server URL with a GET (``signature`` over token, timestamp and
nonce; kefu echoes ``echostr``) and then POSTs XML. In safe mode (``encrypt_type=aes``) the
message is in ``<Encrypt>``, signed by ``msg_signature``, and decrypted with the
EncodingAESKey (crypto.py). kefu answers ``success`` at once: it replies later through the
customer-service message API, not in the HTTP answer (which WeChat wants within 5 s).

Outbound: ``/cgi-bin/message/custom/send`` with an access_token from ``/cgi-bin/token``,
cached until it expires and fetched again when WeChat says it is invalid (40001, 42001).
Images are uploaded first as temporary media (``/cgi-bin/media/upload``); other files
cannot be sent as customer-service messages and are named in the text.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
import orjson

from kefu.channels.base import (
    Inbound,
    InboundAttachment,
    OutboundMessage,
    RemoteMedia,
    SendRejected,
    SendResult,
    ThreadMode,
    WebhookReply,
    WebhookRequest,
    register,
)
from kefu.channels.vendor import VendorHTTP, json_body, same, setting
from kefu.channels.wechat import crypto
from kefu.channels.wechat.inbound import parse_message, parse_xml

API_URL = "https://api.weixin.qq.com"
STALE_TOKEN = frozenset({40001, 40014, 42001})  # invalid / expired access_token
RETRY = frozenset({-1, 45009, 45011})  # system busy, daily quota, too frequent
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif")
EXPIRY_MARGIN_S = 300.0


@dataclass
class TokenCache:
    """One access_token per AppID in this process, until shortly before it expires."""

    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def get(self, appid: str) -> str | None:
        token, until = self.tokens.get(appid, ("", 0.0))
        return token if token and until > time.monotonic() else None

    def put(self, appid: str, token: str, expires_in_s: float) -> None:
        self.tokens[appid] = (token, time.monotonic() + expires_in_s - EXPIRY_MARGIN_S)

    def drop(self, appid: str, token: str) -> None:
        if self.tokens.get(appid, ("",))[0] == token:
            self.tokens.pop(appid, None)

    def lock(self, appid: str) -> asyncio.Lock:
        return self.locks.setdefault(appid, asyncio.Lock())


class WeChatAdapter(VendorHTTP):
    name: ClassVar[str] = "wechat"
    thread_mode: ClassVar[ThreadMode] = "conversation"
    identity_kind: ClassVar[str] = "wechat"
    secret_fields: ClassVar[tuple[str, ...]] = ("app_secret", "token", "encoding_aes_key")

    def __init__(self) -> None:
        self.tokens = TokenCache()

    # -- inbound -----------------------------------------------------------------------------
    def verify(self, request: WebhookRequest, config: Mapping[str, Any]) -> bool:
        token, q = str(config.get("token") or ""), request.query
        if not token or not same(q.get("signature", ""), _sign(token, q)):
            return False
        if request.method == "POST" and q.get("encrypt_type") == "aes":
            encrypted = _encrypted(request.body)
            # An unreadable body is a malformed payload (400), found by parse_inbound.
            return encrypted is None or same(q.get("msg_signature", ""), _sign(token, q, encrypted))
        return True

    def parse_inbound(
        self, request: WebhookRequest, config: Mapping[str, Any]
    ) -> tuple[list[Inbound], WebhookReply]:
        if request.method == "GET":
            return [], WebhookReply(body=request.query.get("echostr", "").encode())
        body = request.body
        if request.query.get("encrypt_type") == "aes":
            encrypted = _encrypted(body)
            if encrypted is None:
                raise ValueError("safe mode message without <Encrypt>")
            key, appid = str(config.get("encoding_aes_key") or ""), str(config.get("appid") or "")
            body = crypto.decrypt(key, appid, encrypted)
        return parse_message(parse_xml(body)), WebhookReply(body=b"success")

    async def download(self, media: RemoteMedia, config: Mapping[str, Any]) -> InboundAttachment:
        async with self.client() as http:
            response = await self._call(
                http, config, "GET", "media/get", params={"media_id": media.ref}
            )
            video_url = json_body(response).get("video_url") if _is_json(response) else None
            if video_url:  # temporary video media come as a link
                response = await http.get(str(video_url))
                response.raise_for_status()
        ctype = response.headers.get("content-type", media.content_type).split(";")[0]
        return InboundAttachment(media.filename, ctype, response.content)

    # -- outbound ----------------------------------------------------------------------------
    async def send(self, message: OutboundMessage, config: Mapping[str, Any]) -> SendResult:
        images = [a for a in message.attachments if a[1] in IMAGE_TYPES]
        others = [name for name, ctype, _ in message.attachments if ctype not in IMAGE_TYPES]
        text = message.text + (f"\n[{', '.join(others)}]" if others else "")
        async with self.client() as http:
            media_ids = [await self._upload(http, config, *image) for image in images]
            if text.strip():
                await self._custom_send(http, config, message.to, "text", {"content": text})
            for media_id in media_ids:
                await self._custom_send(http, config, message.to, "image", {"media_id": media_id})
        return SendResult(external_id=None)  # the API answers no message id

    async def _custom_send(
        self,
        http: httpx.AsyncClient,
        config: Mapping[str, Any],
        to: str,
        kind: str,
        content: dict[str, str],
    ) -> None:
        body = orjson.dumps({"touser": to, "msgtype": kind, kind: content})
        headers = {"Content-Type": "application/json"}
        await self._call(http, config, "POST", "message/custom/send", content=body, headers=headers)

    async def _upload(
        self, http: httpx.AsyncClient, config: Mapping[str, Any], name: str, ctype: str, data: bytes
    ) -> str:
        response = await self._call(
            http,
            config,
            "POST",
            "media/upload",
            params={"type": "image"},
            files={"media": (name, data, ctype)},
        )
        return str(json_body(response)["media_id"])

    async def _call(
        self,
        http: httpx.AsyncClient,
        config: Mapping[str, Any],
        method: str,
        path: str,
        **kwargs: Any,
    ) -> httpx.Response:
        """One API call with the cached token; a token WeChat calls stale is fetched anew
        and the call made once more."""
        extra = kwargs.pop("params", {})
        url = f"{_api(config)}/cgi-bin/{path}"
        for attempt in (1, 2):
            token = await self.access_token(http, config)
            params = {"access_token": token, **extra}
            response = await http.request(method, url, params=params, **kwargs)
            code = _errcode(response)
            if code in STALE_TOKEN and attempt == 1:
                self.tokens.drop(setting(config, "appid"), token)
                continue
            _check(response, code, path)
            return response
        raise AssertionError("unreachable")

    async def access_token(self, http: httpx.AsyncClient, config: Mapping[str, Any]) -> str:
        appid = setting(config, "appid")
        async with self.tokens.lock(appid):
            cached = self.tokens.get(appid)
            if cached:
                return cached
            response = await http.get(
                f"{_api(config)}/cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": appid,
                    "secret": setting(config, "app_secret"),
                },
            )
            _check(response, _errcode(response), "token")
            body = json_body(response)
            self.tokens.put(appid, str(body["access_token"]), float(body.get("expires_in", 7200)))
            return str(body["access_token"])


def _api(config: Mapping[str, Any]) -> str:
    return str(config.get("api_url") or API_URL).rstrip("/")


def _sign(token: str, query: Mapping[str, str], *extra: str) -> str:
    return crypto.signature(token, query.get("timestamp", ""), query.get("nonce", ""), *extra)


def _encrypted(body: bytes) -> str | None:
    try:
        return parse_xml(body).get("Encrypt") or None
    except ValueError:
        return None


def _is_json(response: httpx.Response) -> bool:
    ctype = response.headers.get("content-type", "")
    return "json" in ctype or "text/plain" in ctype


def _errcode(response: httpx.Response) -> int:
    if not _is_json(response):
        return 0 if response.is_success else -1
    return int(json_body(response).get("errcode") or 0)


def _check(response: httpx.Response, code: int, what: str) -> None:
    if code == 0 and response.is_success:
        return
    message = json_body(response).get("errmsg", response.text[:200])
    reason = f"WeChat {what} failed (errcode {code}): {message}"
    if code in RETRY or response.status_code >= 500 or code == -1:
        raise RuntimeError(reason)
    raise SendRejected(reason)


register(WeChatAdapter())
