"""The second sign-in step (multi-factor authentication), ready for factors to plug in.

A factor (TOTP, WebAuthn, a code by SMS, ...) implements ``SecondFactor`` and calls
``register``. When a registered factor is enrolled for the user, the sign-in page stops
after a correct password, keeps a short-lived signed "password checked" cookie, and asks
for the factor's code before the session starts. kefu registers no factor of its own yet,
so until one is added the password alone signs in.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Protocol

from kefu.db import Ctx

PENDING_S = 300


class SecondFactor(Protocol):
    name: str
    # What the code field asks for; a message id of the catalogue, e.g. "Code from your app".
    prompt: str

    def enrolled(self, ctx: Ctx, user_id: int) -> bool: ...

    def verify(self, ctx: Ctx, user_id: int, code: str) -> bool: ...


FACTORS: dict[str, SecondFactor] = {}


def register(factor: SecondFactor) -> None:
    FACTORS[factor.name] = factor


def unregister(name: str) -> None:
    FACTORS.pop(name, None)


def factor_for(ctx: Ctx, user_id: int) -> str | None:
    """The name of the first registered factor the user is enrolled in, if any."""
    return next((n for n, f in FACTORS.items() if f.enrolled(ctx, user_id)), None)


def verify(ctx: Ctx, name: str, user_id: int, code: str) -> bool:
    factor = FACTORS.get(name)
    return factor is not None and factor.verify(ctx, user_id, code.strip())


def pending_token(secret: str, user_id: int, factor: str, now_s: float) -> str:
    """Proof that the password was right, valid for ``PENDING_S`` seconds."""
    payload = f"{user_id}.{int(now_s) + PENDING_S}.{factor}"
    return f"{payload}.{_sign(secret, payload)}"


def read_pending(secret: str, token: str, now_s: float) -> tuple[int, str] | None:
    """(user id, factor) if the token is genuine and fresh."""
    payload, _, signature = token.rpartition(".")
    parts = payload.split(".")
    if len(parts) != 3 or not hmac.compare_digest(signature, _sign(secret, payload)):
        return None
    user_id, expires, factor = parts
    if not user_id.isdigit() or not expires.isdigit() or int(expires) < now_s:
        return None
    return int(user_id), factor


def _sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), b"kefu-mfa:" + payload.encode(), hashlib.sha256).hexdigest()
