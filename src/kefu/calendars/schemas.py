"""A calendar as people write it (API JSON and the YAML of ``kefu sla export``)::

name: Shanghai office
time_zone: Asia/Shanghai
week: {mon: ["09:00-12:00", "13:00-18:00"], tue: [...], ...}   # a missing day is closed
holidays: [{date: 2026-02-16, end: 2026-02-22, name: 春节}]      # end is inclusive
extra_days: [{date: 2026-02-14, name: 调休}]                     # hours: Monday's unless given
"""

from __future__ import annotations

import itertools
import re
from datetime import date as Date
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from kefu.calendars.hours import DAY_S, Span
from kefu.kit.validators import check_time_zone

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_HOLIDAY_DAYS = 366
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def clean_name(value: str) -> str:
    """A name people refer to things by (in YAML too): trimmed, never blank."""
    if not value.strip():
        raise ValueError("cannot be blank")
    return value.strip()


def parse_span(text: str) -> Span:
    match = _SPAN.match(text)
    if match is None:
        raise ValueError(f"'{text}' is not a span such as 09:00-18:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if m1 > 59 or m2 > 59 or h1 > 23 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise ValueError(f"'{text}' has an impossible time (00:00 to 24:00)")
    start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
    if end <= start:
        raise ValueError(
            f"'{text}' ends before it starts; split a night shift at midnight "
            "(22:00-24:00 on one day, 00:00-06:00 on the next)"
        )
    return Span(start, end)


def format_span(span: Span) -> str:
    def hhmm(seconds: int) -> str:
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"

    return f"{hhmm(span.start)}-{hhmm(span.end if span.end <= DAY_S else DAY_S)}"


def _canonical_span(text: str) -> str:
    return format_span(parse_span(text))


SpanText = Annotated[str, AfterValidator(_canonical_span)]


def _day(spans: list[str]) -> list[str]:
    parsed = sorted(parse_span(s) for s in spans)
    for before, after in itertools.pairwise(parsed):
        if after.start < before.end:
            raise ValueError(f"{format_span(before)} and {format_span(after)} overlap")
    return [format_span(s) for s in parsed]


DaySpans = Annotated[list[SpanText], Field(max_length=24), AfterValidator(_day)]


class HolidayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: Date
    end: Date | None = Field(default=None, description="Last day of a multi-day holiday")
    name: str = Field(default="", max_length=100)

    @model_validator(mode="after")
    def _range(self) -> HolidayIn:
        if self.end is not None:
            if self.end < self.date:
                raise ValueError("end comes before date")
            if (self.end - self.date).days >= MAX_HOLIDAY_DAYS:
                raise ValueError(f"a holiday lasts at most {MAX_HOLIDAY_DAYS} days")
        return self

    def days(self) -> list[Date]:
        last = self.end or self.date
        return [Date.fromordinal(o) for o in range(self.date.toordinal(), last.toordinal() + 1)]


class ExtraDayIn(BaseModel):
    """A working day that would otherwise be off (a 调休 Saturday or Sunday)."""

    model_config = ConfigDict(extra="forbid")

    date: Date
    hours: DaySpans | None = Field(
        default=None, description="Working spans; default: the first weekday's with hours"
    )
    name: str = Field(default="", max_length=100)


class CalendarIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    time_zone: str = Field(description="IANA zone, e.g. Asia/Shanghai")
    week: dict[Weekday, DaySpans] = Field(
        description='Working spans per weekday, e.g. {"mon": ["09:00-12:00", "13:00-18:00"]}'
    )
    holidays: list[HolidayIn] = Field(default_factory=list, max_length=1000)
    extra_days: list[ExtraDayIn] = Field(default_factory=list, max_length=1000)

    _zone = field_validator("time_zone")(check_time_zone)
    _name = field_validator("name")(clean_name)

    @field_validator("week")
    @classmethod
    def _some_hours(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        if not any(v.values()):
            raise ValueError("a calendar needs working hours on at least one weekday")
        return {day: v[day] for day in WEEKDAYS if v.get(day)}


class CalendarRead(CalendarIn):
    id: int
    version: int
    created_at: datetime
    updated_at: datetime


class CalendarList(BaseModel):
    items: list[CalendarRead]


class BusinessTime(BaseModel):
    """The calendar's arithmetic, shown: business seconds between two instants, or the
    instant a number of business seconds after a start."""

    calendar_id: int
    start: datetime
    end: datetime
    business_seconds: float
    open_at_start: bool
