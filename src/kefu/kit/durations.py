"""Durations written for people: ``90`` (seconds), ``"45s"``, ``"30m"``, ``"1h30m"``, ``"2d"``."""

from __future__ import annotations

import re

UNITS = {"d": 86_400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)\s*([dhms])")
_WHOLE = re.compile(r"^\s*(\d+\s*[dhms]\s*)+$")


def parse_duration(value: int | str) -> int:
    """Seconds in a duration; raises ValueError with a message fit for the user."""
    if isinstance(value, bool):
        raise ValueError("is not a duration such as 30m, 4h or 1h30m")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("cannot be negative")
        return value
    text = value.strip().lower()
    if text.isdigit():
        return int(text)
    if not _WHOLE.match(text):
        raise ValueError(f"'{value}' is not a duration such as 30m, 4h or 1h30m (units d h m s)")
    return sum(int(n) * UNITS[unit] for n, unit in _PART.findall(text))


def format_duration(seconds: int) -> str:
    """The shortest exact form: 5400 -> '1h30m', 0 -> '0s'."""
    if seconds == 0:
        return "0s"
    parts = []
    rest = seconds
    for unit, size in UNITS.items():
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
