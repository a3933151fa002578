"""Identity tokens: how a company's site tells kefu who its signed-in visitor is.

The site signs a JSON Web Token with HS256 and the web chat account's ``identity_secret``:
``{"sub": "<user id>", "email": "...", "name": "...", "exp": <unix time>}``. kefu checks the
signature and the expiry; a token that fails either leaves the visitor anonymous, and the
widget is told why (``identity_invalid`` / ``identity_expired``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import jwt

from kefu.customers.identities import normalise_email

LEEWAY_S = 30
MAX_LIFETIME_S = 31 * 24 * 3600  # a token valid for longer is a signing mistake: refused


@dataclass(frozen=True)
class Identity:
    user_id: str
    email: str | None
    name: str

    @property
    def kind(self) -> str:
        return "email" if self.email else "external"

    def value(self, account_id: int) -> str:
        """What identifies the customer: the email, else the site's user id in this account."""
        return self.email or f"{account_id}:{self.user_id}"


@dataclass(frozen=True)
class IdentityError:
    code: Literal["identity_invalid", "identity_expired", "identity_unconfigured"]
    detail: str


def verify(token: str, secret: str, now: datetime) -> Identity | IdentityError:
    if not secret:
        return IdentityError("identity_unconfigured", "this chat does not accept identity tokens")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["exp", "sub"], "verify_exp": False},
        )
    except jwt.InvalidTokenError as exc:
        return IdentityError("identity_invalid", f"the identity token is not valid: {exc}")
    return _checked(claims, now)


def _checked(claims: dict[str, Any], now: datetime) -> Identity | IdentityError:
    exp = claims.get("exp")
    if not isinstance(exp, int | float):
        return IdentityError("identity_invalid", "exp must be a number")
    remaining = exp - now.timestamp()
    if remaining < -LEEWAY_S:
        return IdentityError("identity_expired", "the identity token has expired")
    if remaining > MAX_LIFETIME_S:
        return IdentityError("identity_invalid", "the identity token is valid for too long")
    email = claims.get("email")
    try:
        normalised = normalise_email(email) if isinstance(email, str) and email else None
    except ValueError as exc:
        return IdentityError("identity_invalid", str(exc))
    user_id = str(claims["sub"]).strip()[:120]
    if not user_id:
        return IdentityError("identity_invalid", "sub must name the user")
    name = claims.get("name")
    return Identity(user_id, normalised, name.strip()[:200] if isinstance(name, str) else "")
