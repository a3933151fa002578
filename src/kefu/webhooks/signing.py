"""Standard Webhooks signatures (https://www.standardwebhooks.com): each request carries
``webhook-id`` (the same on every retry of one message), ``webhook-timestamp`` (Unix
seconds of this attempt) and ``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256, keyed
with the secret after its ``whsec_`` prefix (base64), of ``id.timestamp.body``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def is_secret(value: str) -> bool:
    if not value.startswith(PREFIX):
        return False
    try:
        return len(base64.b64decode(value[len(PREFIX) :], validate=True)) >= 16
    except ValueError:
        return False


def signature(secret: str, message_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{message_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(secret: str, message_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }
