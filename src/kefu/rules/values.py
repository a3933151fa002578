"""Conditions' values as predicates over the facts: one builder per kind of field (text,
choice, ordered, number, date, set, bool, duration, team / agent), each normalising its
value once (words to lower case, priorities to ranks, names to ids, patterns to RE2
programs) so that a check is a dict read and a comparison. ``compiler.py`` walks the groups
and calls these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import re2

from kefu.calendars.hours import ALWAYS, BusinessHours, TimeScale
from kefu.kit.errors import FieldError
from kefu.rules import catalogue as cat
from kefu.rules.refs import Refs
from kefu.tickets.models import PRIORITY_RANK, Priority

Loc = list[str | int]
Facts = dict[str, Any]
Predicate = Callable[[Facts], bool]
MAX_TEXT = 100_000  # text longer than this is cut before matching (RE2 is linear anyway)


def true(_: Facts) -> bool:
    return True


@dataclass
class Compiling:
    refs: Refs
    subject: str
    events: frozenset[str]
    errors: list[FieldError] = field(default_factory=list)
    needs: set[str] = field(default_factory=set)
    costs: dict[int, int] = field(default_factory=dict)  # id(predicate) -> rough cost

    def costed(self, pred: Predicate, cost: int) -> Predicate:
        self.costs[id(pred)] = cost
        return pred

    def fail(self, loc: Loc, msg: str) -> Predicate:
        self.errors.append(FieldError(loc, msg))
        return true


@dataclass(frozen=True)
class Field:
    key: str  # the facts key
    kind: str
    choices: tuple[str, ...] = ()
    open_choices: bool = True
    custom: str | None = None  # a custom field's (or attribute's) key inside its dict


def getter_of(spec: Field) -> Callable[[Facts], Any]:
    key, custom = spec.key, spec.custom
    if custom is None:
        return lambda f: f.get(key)
    return lambda f: (f.get(key) or {}).get(custom)


def emptiness(getter: Callable[[Facts], Any], empty: bool) -> Predicate:
    if empty:
        return lambda f: getter(f) in (None, "", [], (), frozenset(), set())
    return lambda f: getter(f) not in (None, "", [], (), frozenset(), set())


class Condition(NamedTuple):
    """One condition being compiled: what a builder of its kind needs."""

    state: Compiling
    spec: Field
    getter: Callable[[Facts], Any]
    op: str
    node: dict[str, Any]
    loc: Loc


Builder = Callable[[Condition], Predicate]


def _words(state: Compiling, value: Any, loc: Loc) -> list[str] | None:
    values = value if isinstance(value, list) else [value]
    words = [str(v).strip().lower() for v in values if isinstance(v, str | int) and str(v).strip()]
    if not words or len(words) != len(values):
        state.fail(loc, "give a word or a list of words")
        return None
    return words


def _text(c: Condition) -> Predicate:
    state, spec, getter, op, node, loc = c
    value = node.get("value")
    if op in ("matches", "not_matches"):
        return _pattern(state, getter, spec, op, value, [*loc, "value"])
    words = _words(state, value, [*loc, "value"])
    if words is None:
        return true
    lowered = _lowered(spec, getter)
    if op == "contains" or op == "not_contains":
        wanted = op == "contains"
        if len(words) == 1:
            word = words[0]
            return lambda f: (word in lowered(f)) is wanted
        return lambda f: any(w in lowered(f) for w in words) is wanted
    if op == "starts_with":
        prefixes = tuple(words)
        return lambda f: lowered(f).startswith(prefixes)
    one = set(words)
    if op == "is":
        return lambda f: lowered(f).strip() in one
    return lambda f: lowered(f).strip() not in one


def _lowered(spec: Field, getter: Callable[[Facts], Any]) -> Callable[[Facts], str]:
    if spec.custom is None and spec.key in _LOWERED:
        key = spec.key + "~"
        return lambda f: f.get(key) or ""
    return lambda f: str(getter(f) or "")[:MAX_TEXT].lower()


_LOWERED = frozenset(
    {
        "ticket.subject",
        "ticket.text",
        "ticket.category",
        "message.body",
        "customer.email",
        "survey.comment",
        "agent.reason",
    }
)


def _pattern(
    state: Compiling, getter: Callable[[Facts], Any], spec: Field, op: str, value: Any, loc: Loc
) -> Predicate:
    """RE2, linear in the text whatever the pattern; run on the text's UTF-8 bytes, kept in
    the facts once per event, since the binding re-encodes a str on every call."""
    if not isinstance(value, str) or not value or len(value) > 1000:
        return state.fail(loc, "give a pattern (at most 1000 characters)")
    try:
        search = pattern_program(value).search
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        return state.fail(loc, f"is not a valid pattern: {text}")
    wanted = op == "matches"
    if spec.custom is None and spec.key in _LOWERED:
        key = spec.key
        return lambda f: (search(utf8(f, key)) is not None) is wanted
    return lambda f: (search(str(getter(f) or "")[:MAX_TEXT].encode()) is not None) is wanted


def pattern_program(pattern: str) -> Any:
    options = re2.Options()
    options.case_sensitive = False
    options.max_mem = 8 << 20
    return re2.compile(pattern.encode(), options)


def utf8(facts: Facts, key: str) -> bytes:
    """A text fact as UTF-8, encoded once per event and kept beside it."""
    cached = facts.get(key + "^")
    if cached is None:
        cached = facts[key + "^"] = str(facts.get(key) or "")[:MAX_TEXT].encode()
    assert isinstance(cached, bytes)
    return cached


def _choice(c: Condition) -> Predicate:
    state, spec, getter, op, node, loc = c
    values = _choice_values(state, spec, node.get("value"), op, [*loc, "value"])
    if values is None:
        return true
    if spec.kind == cat.ORDERED:
        return _ordered(spec.key, op, values)
    return _membership(spec, getter, values, op in ("is_not", "not_in"))


def _membership(
    spec: Field, getter: Callable[[Facts], Any], values: list[Any], negate: bool
) -> Predicate:
    """Is the value one of these: reading the facts key straight (no getter call) when the
    field is not a custom one, since this check runs for most rules on most events."""
    key, one, allowed = spec.key, values[0], frozenset(values)
    if spec.custom is not None:
        return (lambda f: getter(f) not in allowed) if negate else (lambda f: getter(f) in allowed)
    if negate:
        return lambda f: f.get(key) not in allowed
    if len(values) == 1:
        return lambda f: f.get(key) == one
    return lambda f: f.get(key) in allowed


def _choice_values(
    state: Compiling, spec: Field, value: Any, op: str, loc: Loc
) -> list[Any] | None:
    many = op in ("in", "not_in")
    values = value if many and isinstance(value, list) else [value]
    if many and not isinstance(value, list):
        state.fail(loc, "give a list of values")
        return None
    if not values:
        state.fail(loc, "give at least one value")
        return None
    out: list[Any] = []
    for index, item in enumerate(values):
        where = [*loc, index] if many else loc
        if not isinstance(item, str | int) or isinstance(item, bool):
            state.fail(where, "must be a text value")
            return None
        text = str(item)
        if spec.choices and not spec.open_choices and text not in spec.choices:
            state.fail(where, f"'{text}' is not one of {', '.join(spec.choices)}")
            return None
        out.append(PRIORITY_RANK[Priority(text)] if spec.kind == cat.ORDERED else text)
    return out


def _ordered(key: str, op: str, values: list[Any]) -> Predicate:
    """Priorities, as ranks (low 0 ... urgent 3); a missing one ranks below low."""
    first, allowed = values[0], frozenset(values)
    comparisons: dict[str, Predicate] = {
        "is": lambda f: f.get(key, -1) == first,
        "is_not": lambda f: f.get(key, -1) != first,
        "in": lambda f: f.get(key, -1) in allowed,
        "not_in": lambda f: f.get(key, -1) not in allowed,
        "gt": lambda f: f.get(key, -1) > first,
        "gte": lambda f: f.get(key, -1) >= first,
        "lt": lambda f: f.get(key, -1) < first,
        "lte": lambda f: f.get(key, -1) <= first,
    }
    return comparisons[op]


def _number(c: Condition) -> Predicate:
    state, _spec, getter, op, node, loc = c
    value = node.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return state.fail([*loc, "value"], "must be a number")
    return _compare(getter, op, value, (int, float))


def _date(c: Condition) -> Predicate:
    state, _spec, getter, op, node, loc = c
    value = node.get("value")
    try:
        day = datetime.fromisoformat(str(value)).date().isoformat()
    except ValueError:
        return state.fail([*loc, "value"], "must be a date such as 2026-03-01")
    return _compare(lambda f: str(getter(f) or "")[:10] or None, op, day, (str,))


def _compare(
    getter: Callable[[Facts], Any], op: str, value: Any, types: tuple[type, ...]
) -> Predicate:
    def ok(x: Any) -> bool:
        return isinstance(x, types) and not isinstance(x, bool)

    comparisons: dict[str, Predicate] = {
        "is": lambda f: getter(f) == value,
        "is_not": lambda f: getter(f) != value,
        "gt": lambda f: ok(v := getter(f)) and v > value,
        "gte": lambda f: ok(v := getter(f)) and v >= value,
        "lt": lambda f: ok(v := getter(f)) and v < value,
        "lte": lambda f: ok(v := getter(f)) and v <= value,
    }
    return comparisons[op]


def _set(c: Condition) -> Predicate:
    state, spec, getter, op, node, loc = c
    words = _words(state, node.get("value"), [*loc, "value"])
    if words is None:
        return true
    values = frozenset(words)
    if spec.custom is None:  # kept as lower-cased frozensets in the facts
        key = spec.key
        if op == "includes":
            return lambda f: not values.isdisjoint(f.get(key) or ())
        if op == "includes_all":
            return lambda f: values <= (f.get(key) or frozenset())
        return lambda f: values.isdisjoint(f.get(key) or ())

    def members(f: Facts) -> frozenset[str]:
        got = getter(f)
        if isinstance(got, frozenset):
            return got
        return (
            frozenset(str(x).lower() for x in got) if isinstance(got, list | set) else frozenset()
        )

    if op == "includes":
        return lambda f: not members(f).isdisjoint(values)
    if op == "includes_all":
        return lambda f: values <= members(f)
    return lambda f: members(f).isdisjoint(values)


def _bool(c: Condition) -> Predicate:
    state, spec, getter, _op, node, loc = c
    value = node.get("value")
    if not isinstance(value, bool):
        return state.fail([*loc, "value"], "must be true or false")
    if spec.key == "now.business_hours":
        hours = _calendar(state, node.get("calendar"), [*loc, "calendar"], required=True)
        if not isinstance(hours, BusinessHours):
            return true
        return lambda f: hours.is_open(f["now"]) is value
    return lambda f: bool(getter(f)) is value


def _calendar(state: Compiling, name: Any, loc: Loc, *, required: bool) -> TimeScale | None:
    if name is None or name == "":
        if required:
            state.fail(loc, "name the business-hours calendar")
        return None
    hours = state.refs.calendars.get(str(name))
    if hours is None:
        state.fail(loc, f"no calendar named '{name}'")
    return hours


def _duration(c: Condition) -> Predicate:
    state, spec, _getter, op, node, loc = c
    value, unit = node.get("value"), node.get("unit") or "hours"
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return state.fail([*loc, "value"], "must be a number of units, 0 or more")
    if unit not in cat.UNITS:
        return state.fail([*loc, "unit"], f"use one of {', '.join(cat.UNITS)}")
    business = unit.startswith("business_")
    hours = _calendar(state, node.get("calendar"), [*loc, "calendar"], required=business)
    if business and not isinstance(hours, BusinessHours):
        return true
    if not business and node.get("calendar"):
        return state.fail([*loc, "calendar"], "a calendar goes with business units only")
    state.needs.add("time")
    measure = _measure(unit, float(value), hours)
    key = {
        "ticket.since_created": "ticket.created_at",
        "ticket.since_updated": "ticket.updated_at",
        "ticket.since_status": "ticket.status_since",
        "ticket.since_solved": "ticket.solved_at",
    }[spec.key]
    comparisons = {
        "gt": lambda m: m > 0,
        "gte": lambda m: m >= 0,
        "lt": lambda m: m < 0,
        "lte": lambda m: m <= 0,
    }
    sign = comparisons[op]
    return lambda f: (start := f.get(key)) is not None and sign(measure(start, f["now"]))


Measure = Callable[[datetime, datetime], float]


def _measure(unit: str, amount: float, hours: TimeScale | None) -> Measure:
    """elapsed - amount, in the unit's terms: > 0 means more time has passed."""
    if unit == "business_days":
        assert isinstance(hours, BusinessHours)
        return lambda start, now: business_days(hours, start, now, amount + 1) - amount
    scale = hours or ALWAYS
    limit = timedelta(seconds=amount * cat.UNITS[unit])
    if scale is ALWAYS:
        return lambda start, now: ((now - start) - limit).total_seconds()
    return lambda start, now: (scale.between(start, now) - limit).total_seconds()


def business_days(hours: BusinessHours, start: datetime, now: datetime, cap: float) -> int:
    """Working days from ``start`` to ``now``: Monday 10:00 to Thursday 10:00 is three, and
    Friday 10:00 to Wednesday 10:00 too (a weekend or a holiday does not count)."""
    if now <= start:
        return 0
    first, last = start.astimezone(hours.zone), now.astimezone(hours.zone)
    day, count = first.date(), 0
    while day < last.date() and count < cap:
        day += timedelta(days=1)
        if hours.hours_on(day):
            count += 1
    if count and hours.hours_on(last.date()) and last.time() < first.time():
        count -= 1  # the last working day is not over yet
    return count


def _team(c: Condition) -> Predicate:
    state, spec, getter, op, node, loc = c
    many = op in ("in", "not_in")
    value = node.get("value")
    names = value if many and isinstance(value, list) else [value]
    table = state.refs.teams if spec.kind == cat.TEAM else state.refs.users
    what = "team" if spec.kind == cat.TEAM else "agent (by email)"
    ids: list[int] = []
    for index, name in enumerate(names):
        where = [*loc, "value", index] if many else [*loc, "value"]
        found = table.get(str(name).strip().lower()) if isinstance(name, str) else None
        if found is None:
            return state.fail(where, f"no {what} '{name}'")
        ids.append(found)
    if (many and not isinstance(value, list)) or not ids:
        return state.fail([*loc, "value"], "give a list of names")
    return _membership(spec, getter, ids, op in ("is_not", "not_in"))


# Rough relative costs of one check, to order the checks of a group.
COSTS = {cat.CHOICE: 1, cat.ORDERED: 1, cat.TEAM: 1, cat.USER: 1, cat.BOOL: 1, cat.SET: 2}
COSTS |= {cat.NUMBER: 2, cat.DATE: 2, cat.TEXT: 3, cat.DURATION: 8}

BUILDERS: dict[str, Builder] = {
    cat.TEXT: _text,
    cat.CHOICE: _choice,
    cat.ORDERED: _choice,
    cat.NUMBER: _number,
    cat.DATE: _date,
    cat.SET: _set,
    cat.BOOL: _bool,
    cat.DURATION: _duration,
    cat.TEAM: _team,
    cat.USER: _team,
}
