"""Opaque keyset cursors: the last row's sort value and id, base64-encoded JSON."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from kefu.kit.errors import invalid


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise invalid(["query", "cursor"], "is not a cursor this server issued") from exc
    if not isinstance(values, list) or len(values) != size:
        raise invalid(["query", "cursor"], "does not fit the chosen sort")
    return values


# Keys are 64-bit integers in both engines; anything else in a cursor was not issued here.
_MAX_KEY = 2**63 - 1


def cursor_int(value: Any) -> int:
    """An integer key read from a cursor; ValueError if it is not one."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_KEY:
        raise ValueError(f"{value!r} is not a key")
    return value


def decode_id_cursor(cursor: str | None) -> int | None:
    """The last id of the page before, from a cursor of ``encode_cursor([id])``."""
    if not cursor:
        return None
    value = decode_cursor(cursor, 1)[0]
    try:
        return cursor_int(value)
    except ValueError as exc:
        raise invalid(["query", "cursor"], "is not a cursor this server issued") from exc
