"""Identity values are normalised before they are stored or looked up, so the same person
is recognised whatever way they wrote their address or number."""

from __future__ import annotations

from functools import lru_cache

import email_validator
import phonenumbers
from email_validator import EmailNotValidError, validate_email

from kefu.customers.models import IdentityKind

DEFAULT_PHONE_REGION = "CN"
# Company intranets often run mail on a .local domain (Active Directory's corp.local), and
# kefu is self-hosted inside them: accept it (email_validator documents this list as the knob).
if "local" in email_validator.SPECIAL_USE_DOMAIN_NAMES:
    email_validator.SPECIAL_USE_DOMAIN_NAMES.remove("local")


# Every ticket create and inbound mail normalises its requester's address (35 µs in
# email_validator); the same customers write again and again. Failures are not cached.
@lru_cache(maxsize=16_384)
def normalise_email(value: str) -> str:
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"'{value}' is not an email address: {exc}") from exc
    return result.normalized.lower()


def normalise_phone(value: str, region: str = DEFAULT_PHONE_REGION) -> str:
    """E.164; numbers without a country code are read in ``region``."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"'{value}' is not a phone number") from exc
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"'{value}' is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_identity(kind: str, value: str) -> str:
    try:
        ident = IdentityKind(kind)
    except ValueError as exc:
        raise ValueError(f"unknown identity kind '{kind}'") from exc
    if ident is IdentityKind.email:
        return normalise_email(value)
    if ident in (IdentityKind.phone, IdentityKind.whatsapp):
        return normalise_phone(value)
    cleaned = value.strip()
    if not cleaned or len(cleaned) > 254:
        raise ValueError("must be 1 to 254 characters")
    return cleaned
