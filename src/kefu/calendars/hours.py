"""Business-time arithmetic, with no I/O: add business time to an instant, measure the
business time between two instants, with pauses taken out.

A calendar is a weekly schedule of working spans per day in local wall-clock time (an
IANA zone), minus holidays, plus extra working days (China's 调休 weekends). Instants are
aware datetimes; results are UTC. Amounts are ``timedelta`` so sums stay exact.

Daylight saving: a span boundary maps to the first instant at which the wall clock shows
that time or later. So a span that starts inside a spring-forward gap starts when the gap
ends, a fall-back night repeats its hour inside the span (a 01:00-03:00 span lasts three
real hours), and adjacent spans stay contiguous. Business time is always real elapsed
time inside working spans.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_S = 86_400
ZERO = timedelta(0)
# A calendar with no working time in this many days is treated as closed for good.
HORIZON_DAYS = 3_700

Pause = tuple[datetime, datetime]


@dataclass(frozen=True, order=True)
class Span:
    """A working span of a local day, in seconds after local midnight (end may be 86,400)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= DAY_S:
            raise ValueError(f"span {self.start}-{self.end} is not within one day")


DayHours = tuple[Span, ...]


class Closed(ValueError):
    """The calendar has no working time after the instant asked about."""


class TimeScale(ABC):
    """What an SLA needs of a notion of time: add and measure, with pauses taken out.
    Subclasses provide the pause-free ``_add`` and ``_between``."""

    @abstractmethod
    def _add(self, start: datetime, amount: timedelta) -> datetime: ...

    @abstractmethod
    def _between(self, start: datetime, end: datetime) -> timedelta: ...

    def add(self, start: datetime, amount: timedelta, pauses: Sequence[Pause] = ()) -> datetime:
        """The instant at which ``amount`` of working time, not counting pauses, has passed
        since ``start``."""
        if amount < ZERO:
            raise ValueError("cannot add a negative amount of business time")
        start = start.astimezone(UTC)
        remaining = amount
        for run_start, run_end in _runs(start, pauses):
            if run_end is None:
                return self._add(run_start, remaining)
            available = self._between(run_start, run_end)
            if remaining <= available:
                return self._add(run_start, remaining)
            remaining -= available
        raise AssertionError("the last run is open-ended")

    def between(self, start: datetime, end: datetime, pauses: Sequence[Pause] = ()) -> timedelta:
        """Working time from ``start`` to ``end`` not covered by pauses (negative if end
        comes first)."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end < start:
            return -self.between(end, start, pauses)
        total = ZERO
        for run_start, run_end in _runs(start, pauses):
            if run_start >= end:
                break
            total += self._between(run_start, end if run_end is None else min(run_end, end))
        return total


def _runs(start: datetime, pauses: Sequence[Pause]) -> Iterator[tuple[datetime, datetime | None]]:
    """The stretches from ``start`` on that no pause covers; the last one is open-ended."""
    cursor = start
    for p_start, p_end in merge_pauses(pauses):
        if p_end <= cursor:
            continue
        if p_start > cursor:
            yield cursor, p_start
        cursor = max(cursor, p_end)
    yield cursor, None


def merge_pauses(pauses: Iterable[Pause]) -> list[Pause]:
    """Sorted, non-overlapping UTC pauses; empty and inverted ones are dropped."""
    ordered = sorted(
        (a.astimezone(UTC), b.astimezone(UTC)) for a, b in pauses if b.astimezone(UTC) > a
    )
    merged: list[Pause] = []
    for p_start, p_end in ordered:
        if merged and p_start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], p_end))
        else:
            merged.append((p_start, p_end))
    return merged


class AlwaysOpen(TimeScale):
    """Calendar time: every second counts."""

    def _add(self, start: datetime, amount: timedelta) -> datetime:
        return start + amount

    def _between(self, start: datetime, end: datetime) -> timedelta:
        return max(end - start, ZERO)


ALWAYS = AlwaysOpen()


@dataclass(eq=False)
class BusinessHours(TimeScale):
    """Working time of one calendar. ``week`` has seven entries, Monday first."""

    zone: ZoneInfo
    week: tuple[DayHours, ...]
    holidays: frozenset[date] = frozenset()
    extra_days: Mapping[date, DayHours] = field(default_factory=dict)
    _day_cache: dict[date, tuple[Pause, ...]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise ValueError("a week has seven days")
        if not any(self.week):
            raise ValueError("a calendar needs working hours on at least one weekday")

    def hours_on(self, day: date) -> DayHours:
        """The local working spans of a day: an extra working day's, none on a holiday,
        else the weekday's."""
        if day in self.extra_days:
            return self.extra_days[day]
        if day in self.holidays:
            return ()
        return self.week[day.weekday()]

    def periods_on(self, day: date) -> tuple[Pause, ...]:
        """The day's working spans as UTC instants (spans lost in a DST gap are dropped)."""
        cached = self._day_cache.get(day)
        if cached is None:
            midnight = datetime.combine(day, time())
            cached = tuple(
                (a, b)
                for a, b in (
                    (
                        first_instant(self.zone, midnight + timedelta(seconds=span.start)),
                        first_instant(self.zone, midnight + timedelta(seconds=span.end)),
                    )
                    for span in self.hours_on(day)
                )
                if b > a
            )
            if len(self._day_cache) > 4096:
                self._day_cache.clear()
            self._day_cache[day] = cached
        return cached

    def periods_from(self, start: datetime) -> Iterator[Pause]:
        """Working periods from ``start`` on, in order, the first one clipped to start."""
        start = start.astimezone(UTC)
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        idle_days = 0
        while idle_days < HORIZON_DAYS:
            found = False
            for a, b in self.periods_on(day):
                if b > start:
                    found = True
                    yield max(a, start), b
            idle_days = 0 if found else idle_days + 1
            day += timedelta(days=1)
        raise Closed(f"no working time within {HORIZON_DAYS} days after {start.isoformat()}")

    def is_open(self, at: datetime) -> bool:
        at = at.astimezone(UTC)
        day = at.astimezone(self.zone).date()
        return any(
            a <= at < b for d in (day - timedelta(days=1), day) for a, b in self.periods_on(d)
        )

    def _add(self, start: datetime, amount: timedelta) -> datetime:
        if amount == ZERO:
            return start
        remaining = amount
        for a, b in self.periods_from(start):
            if remaining <= b - a:
                return a + remaining
            remaining -= b - a
        raise AssertionError("periods_from never ends without raising")

    def _between(self, start: datetime, end: datetime) -> timedelta:
        total = ZERO
        if end <= start:
            return total
        for a, b in self.periods_from(start):
            if a >= end:
                break
            total += min(b, end) - a
        return total


def first_instant(zone: ZoneInfo, wall: datetime) -> datetime:
    """The first UTC instant at which the wall clock of ``zone`` shows ``wall`` or later.

    Ambiguous times (a fall-back hour) take their first reading; times inside a
    spring-forward gap take the end of the gap."""
    earlier = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(zone, earlier) == wall:
        return earlier
    # Inside a gap: the two readings straddle the transition, which falls on a whole
    # second; find the first second whose wall-clock reading is ``wall`` or later.
    low, high = sorted((wall.replace(tzinfo=zone, fold=1).astimezone(UTC), earlier))
    low_s, high_s = int(low.timestamp()), int(high.timestamp())
    while low_s < high_s:
        middle = (low_s + high_s) // 2
        if _wall(zone, datetime.fromtimestamp(middle, UTC)) >= wall:
            high_s = middle
        else:
            low_s = middle + 1
    return datetime.fromtimestamp(high_s, UTC)


def _wall(zone: ZoneInfo, instant: datetime) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)
