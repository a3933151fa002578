"""Translations (Babel catalogues) and dates, times and numbers in the user's locale.

The catalogues are ``kefu/locale/<language>/LC_MESSAGES/messages.po``. They are compiled in
memory the first time a language is used (a ``.mo`` beside the ``.po`` is read instead when
it is newer), so a fresh checkout needs no build step.
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, timedelta
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale
from babel.dates import (
    TIMEDELTA_UNITS,
    DateTimePattern,
    format_timedelta,
    get_date_format,
    get_datetime_format,
    get_time_format,
    parse_pattern,
)
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

from kefu.kit.validators import LANGUAGES

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
# Each language is named in itself, so anyone can find their own in the list.
LANGUAGE_NAMES = {"en": "English", "zh_CN": "简体中文"}
COMMON_ZONES = (
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Singapore",
    "Asia/Tokyo",
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
)


def N_(message: str) -> str:
    """Marks a string for the catalogue; it is translated where it is shown."""
    return message


def NC_(context: str, message: str) -> tuple[str, str]:
    """Marks a string with a context, for words whose translation depends on where they
    stand ("Email" the channel is 邮件, "Email" the address is 邮箱)."""
    return context, message


def supported(language: str | None) -> str:
    return language if language in LANGUAGES else "en"


@cache
def translations(language: str) -> Translations:
    po = LOCALE_DIR / supported(language) / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return Translations()
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as fp:
            return Translations(fp, domain="messages")
    with po.open("rb") as fp:
        catalog = read_po(fp, locale=supported(language))
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain="messages")


def from_accept_language(header: str | None, default: str) -> str:
    """The first supported language the browser asks for, else ``default``."""
    for part in (header or "").split(","):
        tag = part.split(";")[0].strip().replace("-", "_").lower()
        if tag.startswith("zh"):
            return "zh_CN"
        if tag.startswith("en"):
            return "en"
    return supported(default)


@cache
def time_zones() -> list[str]:
    """IANA zones for a picker, the most used ones first."""
    rest = sorted(z for z in available_timezones() if "/" in z and z not in COMMON_ZONES)
    return [*COMMON_ZONES, *rest]


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@lru_cache(maxsize=256)
def _pattern(language: str, name: str) -> DateTimePattern:
    """A compiled CLDR pattern: "short"/"medium"/"long" date and time, "date", "time",
    or a skeleton such as "MMMd". Babel's format_* functions look these up on every call;
    a list of 50 rows, or a thread of 200 messages, formats hundreds of dates."""
    locale = Locale.parse(language)
    if name in ("short", "medium", "long"):
        size = cast(Any, name)
        both = str(get_datetime_format(size, locale))
        date, time = get_date_format(size, locale).pattern, get_time_format(size, locale).pattern
        return parse_pattern(both.replace("{1}", date).replace("{0}", time))
    if name == "date":
        return get_date_format("medium", locale)
    if name == "time":
        return get_time_format("short", locale)
    return parse_pattern(locale.datetime_skeletons[name])


@lru_cache(maxsize=4096)
def _duration(language: str, seconds: int, style: str, direction: bool) -> str:
    # ``seconds`` is already rounded to its unit; a threshold of 1 keeps Babel from rounding
    # it again into the next unit up (5.85 days shows as 6d, not as 0.86 of a week).
    return format_timedelta(
        seconds, threshold=1.0, format=cast(Any, style), add_direction=direction, locale=language
    )


def rounded_seconds(delta: timedelta) -> int:
    """The delta as Babel rounds it for display (0.85 of a unit counts as one), so equal
    displays share one cache entry."""
    seconds = delta.days * 86400 + delta.seconds  # whole seconds, as Babel counts them
    for unit, size in TIMEDELTA_UNITS:
        value = abs(seconds) / size
        if value >= 0.85 or unit == "second":
            value = max(1, value) if unit == "second" and value > 0 else value
            return round(value) * size * (-1 if seconds < 0 else 1)
    return 0


class Formatter:
    """Dates and numbers for one reader: their language, their time zone, the server's now."""

    def __init__(self, language: str, time_zone: str, now: dt.datetime) -> None:
        self.language = supported(language)
        self.locale = Locale.parse(self.language)
        self.tz = zone(time_zone)
        self.now = now

    def _apply(self, name: str, value: dt.datetime) -> str:
        return str(_pattern(self.language, name).apply(value.astimezone(self.tz), self.locale))

    def datetime(self, value: dt.datetime | None, format: str = "medium") -> str:
        return "" if value is None else self._apply(format, value)

    def short(self, value: dt.datetime | None) -> str:
        """Time alone for today, date and time for earlier days."""
        if value is None:
            return ""
        local, today = value.astimezone(self.tz), self.now.astimezone(self.tz)
        if local.date() == today.date():
            return self._apply("time", value)
        day = self._apply("MMMd" if local.year == today.year else "yMMMd", value)
        return f"{day} {self._apply('time', value)}"

    def date(self, value: dt.datetime | None) -> str:
        return "" if value is None else self._apply("date", value)

    def ago(self, value: dt.datetime | None) -> str:
        """A compact age such as ``12m`` or ``12分钟``, for lists."""
        if value is None:
            return ""
        seconds = rounded_seconds(self.now - value)
        return _duration(self.language, seconds, "narrow", False)

    def ago_long(self, value: dt.datetime | None) -> str:
        if value is None:
            return ""
        seconds = rounded_seconds(value - self.now)
        return _duration(self.language, seconds, "long", True)

    def number(self, value: float | int) -> str:
        return format_decimal(value, locale=self.locale)

    def iso(self, value: dt.datetime | None) -> str:
        return "" if value is None else value.astimezone(UTC).isoformat()

    def midnight(self) -> dt.datetime:
        """The start of the reader's day, in UTC."""
        local = self.now.astimezone(self.tz)
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return start.astimezone(UTC)

    def days_ago(self, days: int) -> dt.datetime:
        return self.midnight() - timedelta(days=days)
