"""What the messaging adapters share: one HTTP client per call with an injectable transport
(tests replay the vendors' documented answers with ``httpx.MockTransport``), HMAC checks,
reading a required setting, and turning a vendor's refusal into the right failure."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from kefu.channels.base import SendRejected

TIMEOUT_S = 20.0


class VendorHTTP:
    """Mixed into adapters that call a vendor's API. ``transport`` is None in production
    (httpx's own); tests set it on the registered adapter."""

    transport: ClassVar[httpx.AsyncBaseTransport | None] = None

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=type(self).transport, timeout=TIMEOUT_S, follow_redirects=True, **kwargs
        )


def setting(config: Mapping[str, Any], key: str) -> str:
    """A setting the account must have; its absence is a configuration error, not a retry."""
    value = config.get(key)
    if not value:
        raise SendRejected(f"the channel account has no '{key}' configured")
    return str(value)


def hmac_hex(key: str, data: bytes, algo: str = "sha256") -> str:
    return hmac.new(key.encode(), data, algo).hexdigest()


def hmac_b64(key: str, data: bytes, algo: str = "sha1") -> str:
    return base64.b64encode(hmac.new(key.encode(), data, algo).digest()).decode()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def sha1_hex(*parts: str) -> str:
    return hashlib.sha1("".join(parts).encode(), usedforsecurity=False).hexdigest()


def refuse_or_retry(status: int, reason: str) -> Exception:
    """4xx (other than 408/429) will fail the same way again: reject. The rest is retried."""
    if 400 <= status < 500 and status not in (408, 429):
        return SendRejected(reason)
    return RuntimeError(reason)


def json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def media_filename(kind: str, content_type: str, given: str | None = None) -> str:
    if given:
        return given
    subtype = content_type.split("/", 1)[-1].split(";", 1)[0].strip() or "bin"
    return f"{kind}.{subtype.replace('x-', '')}"
