"""Small reusable validators for Pydantic models."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kefu.kit.errors import invalid

LANGUAGES = ("en", "zh_CN")
_TAG_RE = re.compile(r"^[\w\-.:/\u4e00-\u9fff]+$")


def check_language(value: str) -> str:
    aliases = {"zh": "zh_CN", "zh-CN": "zh_CN", "zh-Hans": "zh_CN", "en-US": "en", "en-GB": "en"}
    value = aliases.get(value, value)
    if value not in LANGUAGES:
        raise ValueError(f"must be one of {', '.join(LANGUAGES)}")
    return value


def check_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("is not an IANA time zone such as Asia/Shanghai") from exc
    return value


def normalise_tag(value: str) -> str:
    tag = value.strip().lower().replace(" ", "-")
    if not tag or len(tag) > 50 or not _TAG_RE.match(tag):
        raise ValueError(f"'{value}' is not a tag (letters, digits, - _ . : /, at most 50)")
    return tag


def normalise_tags(values: list[str]) -> list[str]:
    return sorted({normalise_tag(v) for v in values})


def tag_query(value: str | None, name: str = "tag") -> str | None:
    """A tag given in a query string, normalised as stored tags are (422 if it cannot be one)."""
    if value is None or not value.strip():
        return None
    try:
        return normalise_tag(value)
    except ValueError as exc:
        raise invalid(["query", name], str(exc)) from exc
