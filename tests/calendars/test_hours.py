"""Business-time arithmetic, proven on generated calendars (hypothesis) and known cases."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kefu.calendars.hours import (
    ALWAYS,
    ZERO,
    BusinessHours,
    Closed,
    Span,
    first_instant,
    merge_pauses,
)

ZONES = [
    "UTC",
    "Asia/Shanghai",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",  # half-hour DST
    "America/Santiago",  # DST changes near midnight
    "Asia/Kolkata",
]
# Instants around 2026, including the DST changes of the zones above.
START = datetime(2025, 12, 20, tzinfo=UTC)
END = datetime(2027, 1, 10, tzinfo=UTC)
instants = st.datetimes(
    min_value=START.replace(tzinfo=None), max_value=END.replace(tzinfo=None), timezones=st.just(UTC)
)
near_dst = st.sampled_from(
    [
        datetime(2026, 3, 8, 6, tzinfo=UTC),  # New York springs forward
        datetime(2026, 11, 1, 5, tzinfo=UTC),  # New York falls back
        datetime(2026, 3, 29, 0, tzinfo=UTC),  # London
        datetime(2026, 10, 25, 0, tzinfo=UTC),
        datetime(2026, 4, 4, 14, tzinfo=UTC),  # Lord Howe
        datetime(2026, 10, 3, 15, tzinfo=UTC),
        datetime(2026, 4, 5, 2, tzinfo=UTC),  # Santiago
        datetime(2026, 9, 6, 3, tzinfo=UTC),
    ]
).flatmap(lambda t: st.integers(-3 * 86_400, 3 * 86_400).map(lambda s: t + timedelta(seconds=s)))
any_instant = st.one_of(instants, near_dst)
amounts = st.integers(0, 40 * 86_400).map(lambda s: timedelta(seconds=s)) | st.integers(
    0, 4 * 3600 * 1_000_000
).map(lambda us: timedelta(microseconds=us))


@st.composite
def day_hours(draw: st.DrawFn) -> tuple[Span, ...]:
    cuts = draw(st.lists(st.integers(0, 96), min_size=0, max_size=6, unique=True))
    cuts = sorted(c * 900 for c in cuts)  # quarter hours
    return tuple(Span(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=False) if b > a)


@st.composite
def calendars(draw: st.DrawFn) -> BusinessHours:
    week = [draw(day_hours()) for _ in range(7)]
    if not any(week):
        week[draw(st.integers(0, 6))] = (Span(9 * 3600, 17 * 3600),)
    days = st.dates(min_value=date(2025, 12, 15), max_value=date(2027, 1, 20))
    holidays = draw(st.frozensets(days, max_size=40))
    extra = draw(st.dictionaries(days, day_hours().filter(bool), max_size=10))
    return BusinessHours(ZoneInfo(draw(st.sampled_from(ZONES))), tuple(week), holidays, extra)


def office(zone: str = "Asia/Shanghai", **kwargs: object) -> BusinessHours:
    day = (Span(9 * 3600, 12 * 3600), Span(13 * 3600, 18 * 3600))
    week = (day,) * 5 + ((), ())
    return BusinessHours(ZoneInfo(zone), week, **kwargs)  # type: ignore[arg-type]


# -- properties ----------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(calendars(), any_instant, amounts)
def test_adding_then_measuring_returns_the_amount(
    cal: BusinessHours, start: datetime, amount: timedelta
) -> None:
    due = cal.add(start, amount)
    assert due >= start
    assert cal.between(start, due) == amount


@settings(max_examples=200, deadline=None)
@given(calendars(), any_instant, amounts)
def test_time_is_only_consumed_inside_working_hours(
    cal: BusinessHours, start: datetime, amount: timedelta
) -> None:
    due = cal.add(start, amount)
    if amount > ZERO:
        assert cal.is_open(due - timedelta(microseconds=1))
        # Not a moment later than needed: just before the due instant, time was missing.
        assert cal.between(start, due - timedelta(microseconds=1)) < amount


@settings(max_examples=200, deadline=None)
@given(calendars(), any_instant, any_instant, amounts, amounts)
def test_adding_is_monotone(
    cal: BusinessHours, a: datetime, b: datetime, x: timedelta, y: timedelta
) -> None:
    a, b = sorted((a, b))
    x, y = sorted((x, y))
    assert cal.add(a, x) <= cal.add(b, x)
    assert cal.add(a, x) <= cal.add(a, y)


@settings(max_examples=200, deadline=None)
@given(calendars(), any_instant, any_instant, any_instant)
def test_measuring_is_additive_and_antisymmetric(
    cal: BusinessHours, a: datetime, b: datetime, c: datetime
) -> None:
    a, b, c = sorted((a, b, c))
    assert cal.between(a, c) == cal.between(a, b) + cal.between(b, c)
    assert cal.between(c, a) == -cal.between(a, c)
    assert ZERO <= cal.between(a, b) <= b - a


@settings(max_examples=200, deadline=None)
@given(calendars(), any_instant, amounts, st.lists(st.tuples(any_instant, any_instant)))
def test_pauses_are_taken_out(
    cal: BusinessHours, start: datetime, amount: timedelta, raw: list[tuple[datetime, datetime]]
) -> None:
    pauses = [tuple(sorted(p)) for p in raw]
    due = cal.add(start, amount, pauses)  # type: ignore[arg-type]
    assert cal.between(start, due, pauses) == amount  # type: ignore[arg-type]
    assert due >= cal.add(start, amount)
    paused = sum(
        (
            cal.between(max(p, start), min(q, due))
            for p, q in merge_pauses(pauses)  # type: ignore[arg-type]
            if min(q, due) > max(p, start)
        ),
        ZERO,
    )
    assert cal.between(start, due) - paused == amount


@settings(max_examples=150, deadline=None)
@given(any_instant, amounts, st.lists(st.tuples(any_instant, any_instant), max_size=4))
def test_calendar_time_counts_every_second_but_pauses(
    start: datetime, amount: timedelta, raw: list[tuple[datetime, datetime]]
) -> None:
    assert ALWAYS.add(start, amount) == start + amount
    pauses = [tuple(sorted(p)) for p in raw]
    due = ALWAYS.add(start, amount, pauses)  # type: ignore[arg-type]
    assert ALWAYS.between(start, due, pauses) == amount  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(calendars(), st.dates(min_value=date(2025, 12, 25), max_value=date(2027, 1, 5)))
def test_holidays_have_no_working_time_and_extra_days_do(cal: BusinessHours, day: date) -> None:
    start = first_instant(cal.zone, datetime.combine(day, time()))
    end = first_instant(cal.zone, datetime.combine(day + timedelta(days=1), time()))
    worked = cal.between(start, end)
    if day in cal.extra_days:
        spans = cal.extra_days[day]
        assert worked <= timedelta(seconds=sum(s.end - s.start for s in spans)) + timedelta(hours=1)
        assert worked > ZERO or not cal.periods_on(day)
    elif day in cal.holidays:
        assert worked == ZERO


@settings(max_examples=60, deadline=None)
@given(calendars().filter(lambda c: c.zone.key in ("UTC", "Asia/Shanghai", "Asia/Kolkata")))
def test_matches_a_minute_by_minute_count_where_there_is_no_dst(cal: BusinessHours) -> None:
    start = datetime(2026, 1, 30, 22, 7, tzinfo=UTC)
    minutes = 9 * 24 * 60
    oracle = 0
    for m in range(minutes):
        wall = (start + timedelta(minutes=m)).astimezone(cal.zone)
        second = wall.hour * 3600 + wall.minute * 60
        oracle += any(s.start <= second < s.end for s in cal.hours_on(wall.date()))
    assert cal.between(start, start + timedelta(minutes=minutes)) == timedelta(minutes=oracle)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(ZONES),
    near_dst,
    st.integers(0, 3).map(lambda h: timedelta(hours=h)),
)
def test_first_instant_is_the_first_reading_at_or_after(
    zone_name: str, around: datetime, shift: timedelta
) -> None:
    zone = ZoneInfo(zone_name)
    wall = (around + shift).astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
    wall = wall.replace(minute=wall.minute // 15 * 15)
    got = first_instant(zone, wall)
    assert got.astimezone(zone).replace(tzinfo=None) >= wall
    for back in range(1, 4 * 60 + 1):
        earlier = got - timedelta(minutes=back)
        assert earlier.astimezone(zone).replace(tzinfo=None) < wall
    assert (got - timedelta(seconds=1)).astimezone(zone).replace(tzinfo=None) < wall


# -- known cases ---------------------------------------------------------------------------
def test_office_hours_skip_lunch_nights_weekends_and_holidays() -> None:
    cal = office(holidays=frozenset({date(2026, 1, 1)}))
    wed_5pm = datetime(2025, 12, 31, 17, tzinfo=ZoneInfo("Asia/Shanghai"))
    due = cal.add(wed_5pm, timedelta(hours=3))
    # 17-18 on Wednesday, New Year's Day off, then 9-11 on Friday.
    assert due == datetime(2026, 1, 2, 11, tzinfo=ZoneInfo("Asia/Shanghai"))
    fri_11am = due
    assert cal.add(fri_11am, timedelta(hours=6)) == datetime(
        2026, 1, 2, 18, tzinfo=ZoneInfo("Asia/Shanghai")
    )
    assert cal.add(fri_11am, timedelta(hours=7)) == datetime(
        2026, 1, 5, 10, tzinfo=ZoneInfo("Asia/Shanghai")
    )


def test_extra_working_sunday_counts() -> None:
    sunday = date(2026, 2, 15)
    cal = office(extra_days={sunday: (Span(9 * 3600, 18 * 3600),)})
    sat_noon = datetime(2026, 2, 14, 12, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert cal.add(sat_noon, timedelta(hours=2)) == datetime(
        2026, 2, 15, 11, tzinfo=ZoneInfo("Asia/Shanghai")
    )


def test_dst_days_last_23_and_25_hours_around_the_clock() -> None:
    always = BusinessHours(ZoneInfo("America/New_York"), ((Span(0, 86_400),),) * 7)
    ny = ZoneInfo("America/New_York")

    def day(d: date) -> timedelta:
        return always.between(
            datetime.combine(d, time(), ny), datetime.combine(d + timedelta(days=1), time(), ny)
        )

    assert day(date(2026, 3, 8)) == timedelta(hours=23)
    assert day(date(2026, 11, 1)) == timedelta(hours=25)
    assert day(date(2026, 6, 1)) == timedelta(hours=24)


def test_night_span_across_dst_counts_real_time() -> None:
    ny = ZoneInfo("America/New_York")
    night = BusinessHours(ny, ((Span(3600, 3 * 3600),),) * 7)
    spring = datetime(2026, 3, 8, tzinfo=ny)
    fall = datetime(2026, 11, 1, tzinfo=ny)
    assert night.between(spring, spring + timedelta(hours=12)) == timedelta(hours=1)
    assert night.between(fall, fall + timedelta(hours=12)) == timedelta(hours=3)
    # Starting inside the gap (02:30 does not exist) means starting when the gap ends.
    assert first_instant(ny, datetime(2026, 3, 8, 2, 30)) == datetime(2026, 3, 8, 7, tzinfo=UTC)


def test_a_calendar_without_working_days_is_refused_and_a_closed_future_raises() -> None:
    with pytest.raises(ValueError):
        BusinessHours(ZoneInfo("UTC"), ((),) * 7)
    monday_only = BusinessHours(
        ZoneInfo("UTC"),
        ((Span(0, 3600),),) + ((),) * 6,
        holidays=frozenset(date(2026, 1, 5) + timedelta(weeks=w) for w in range(600)),
    )
    with pytest.raises(Closed):
        monday_only.add(datetime(2026, 1, 1, tzinfo=UTC), timedelta(hours=2))
