"""Business-hours calendars: validate, store, compile to ``BusinessHours``. Never commits.

A calendar is refused as a whole when any part is wrong (each fault listed with its path);
the stored version keeps running. SLA policies name a calendar; a change here is passed to
the SLA service in the same transaction so running clocks are recomputed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kefu.calendars import repository as repo
from kefu.calendars.hours import BusinessHours, DayHours
from kefu.calendars.models import BusinessCalendar
from kefu.calendars.schemas import (
    WEEKDAYS,
    BusinessTime,
    CalendarIn,
    CalendarList,
    CalendarRead,
    parse_span,
)
from kefu.db import Ctx
from kefu.kit.errors import Conflict, FieldError, Invalid, NotFound, invalid
from kefu.kit.time import as_utc
from kefu.security.permissions import Principal

Loc = list[str | int]


# -- pure: checking and compiling ------------------------------------------------------------
def check_calendar(data: CalendarIn, loc: Loc) -> list[FieldError]:
    """Rules across fields: a date is a holiday or an extra working day, not both, once."""
    errors: list[FieldError] = []
    holiday_days: dict[date, int] = {}
    for index, holiday in enumerate(data.holidays):
        for day in holiday.days():
            if day in holiday_days:
                where = [*loc, "holidays", index, "date"]
                errors.append(FieldError(where, f"{day} is already in holiday {holiday_days[day]}"))
                break
            holiday_days[day] = index
    seen: set[date] = set()
    for index, extra in enumerate(data.extra_days):
        where = [*loc, "extra_days", index, "date"]
        if extra.date in seen:
            errors.append(FieldError(where, f"{extra.date} is listed twice"))
        if extra.date in holiday_days:
            msg = f"{extra.date} is also a holiday (#{holiday_days[extra.date]}); keep one"
            errors.append(FieldError(where, msg))
        seen.add(extra.date)
    return errors


def compile_calendar(data: CalendarIn) -> BusinessHours:
    week = tuple(_spans(data.week.get(day) or []) for day in WEEKDAYS)
    usual = next(hours for hours in week if hours)
    return BusinessHours(
        zone=ZoneInfo(data.time_zone),
        week=week,
        holidays=frozenset(day for holiday in data.holidays for day in holiday.days()),
        extra_days={e.date: _spans(e.hours) if e.hours else usual for e in data.extra_days},
    )


def _spans(texts: list[str]) -> DayHours:
    return tuple(sorted(parse_span(t) for t in texts))


def definition(calendar: BusinessCalendar) -> CalendarIn:
    return CalendarIn(
        name=calendar.name,
        description=calendar.description,
        time_zone=calendar.time_zone,
        **calendar.schedule,
    )


def calendar_read(calendar: BusinessCalendar) -> CalendarRead:
    return CalendarRead(
        **definition(calendar).model_dump(),
        id=calendar.id,
        version=calendar.version,
        created_at=calendar.created_at,
        updated_at=calendar.updated_at,
    )


def _stored(data: CalendarIn) -> dict[str, Any]:
    dumped = data.model_dump(mode="json", include={"week", "holidays", "extra_days"})
    return {"name": data.name, "description": data.description, "time_zone": data.time_zone} | {
        "schedule": dumped
    }


# -- reads -----------------------------------------------------------------------------------
def _require(ctx: Ctx, calendar_id: int) -> BusinessCalendar:
    calendar = repo.get(ctx.session, calendar_id)
    if calendar is None:
        raise NotFound("Calendar", calendar_id)
    return calendar


def list_calendars(ctx: Ctx) -> CalendarList:
    return CalendarList(items=[calendar_read(c) for c in repo.all_calendars(ctx.session)])


def get_calendar(ctx: Ctx, calendar_id: int) -> CalendarRead:
    return calendar_read(_require(ctx, calendar_id))


def hours_by_id(ctx: Ctx) -> dict[int, tuple[str, BusinessHours]]:
    """Every calendar compiled, by id, with its name."""
    return {
        c.id: (c.name, compile_calendar(definition(c))) for c in repo.all_calendars(ctx.session)
    }


def id_by_name(ctx: Ctx, name: str) -> int | None:
    calendar = repo.by_name(ctx.session, name)
    return None if calendar is None else calendar.id


def business_time(
    ctx: Ctx, calendar_id: int, start: datetime, end: datetime | None, seconds: float | None
) -> BusinessTime:
    """Either the business time from start to end, or the end ``seconds`` after start."""
    hours = compile_calendar(definition(_require(ctx, calendar_id)))
    start = as_utc(start)
    if (end is None) == (seconds is None):
        raise invalid(["query", "end"], "give either end or seconds")
    if seconds is not None:
        if seconds < 0:
            raise invalid(["query", "seconds"], "cannot be negative")
        end = hours.add(start, timedelta(seconds=seconds))
    assert end is not None
    end = as_utc(end)
    return BusinessTime(
        calendar_id=calendar_id,
        start=start,
        end=end,
        business_seconds=hours.between(start, end).total_seconds(),
        open_at_start=hours.is_open(start),
    )


# -- writes ----------------------------------------------------------------------------------
def _validate(ctx: Ctx, data: CalendarIn, loc: Loc, calendar_id: int | None) -> None:
    errors = check_calendar(data, loc)
    other = repo.by_name(ctx.session, data.name)
    if other is not None and other.id != calendar_id:
        errors.append(FieldError([*loc, "name"], f"a calendar named '{data.name}' exists"))
    if errors:
        raise Invalid(errors)


def create_calendar(
    ctx: Ctx, actor: Principal | None, data: CalendarIn, loc: Loc | None = None
) -> CalendarRead:
    _validate(ctx, data, loc or ["body"], None)
    now = ctx.now()
    values = _stored(data) | {"version": 1, "created_at": now, "updated_at": now}
    calendar = repo.add(ctx.session, values | {"updated_by_id": _actor_id(actor)})
    ctx.emit("calendar.created", calendar_id=calendar.id)
    return calendar_read(calendar)


def update_calendar(
    ctx: Ctx,
    actor: Principal | None,
    calendar_id: int,
    data: CalendarIn,
    expected_version: int | None = None,
    loc: Loc | None = None,
) -> CalendarRead:
    calendar = _require(ctx, calendar_id)
    if expected_version is not None and expected_version != calendar.version:
        raise Conflict(
            f"Calendar {calendar_id} is at version {calendar.version}, you edited "
            f"version {expected_version}; reload and apply your change again"
        )
    _validate(ctx, data, loc or ["body"], calendar_id)
    values = _stored(data)
    if all(getattr(calendar, key) == value for key, value in values.items()):
        return calendar_read(calendar)
    for key, value in values.items():
        setattr(calendar, key, value)
    calendar.version += 1
    calendar.updated_at, calendar.updated_by_id = ctx.now(), _actor_id(actor)
    _tell_sla(ctx, calendar.id)
    ctx.emit("calendar.updated", calendar_id=calendar.id, version=calendar.version)
    return calendar_read(calendar)


def delete_calendar(ctx: Ctx, actor: Principal | None, calendar_id: int) -> None:
    from kefu.sla import policies  # SLA policies refer to calendars: a mutual need

    calendar = _require(ctx, calendar_id)
    users = policies.names_using_calendar(ctx, calendar_id)
    if users:
        raise Conflict(f"Calendar '{calendar.name}' is used by SLA policies: {', '.join(users)}")
    repo.remove(ctx.session, calendar_id)
    ctx.emit("calendar.deleted", calendar_id=calendar_id)


def _tell_sla(ctx: Ctx, calendar_id: int) -> None:
    from kefu.sla import policies  # SLA policies refer to calendars: a mutual need

    policies.calendar_changed(ctx, calendar_id)


def _actor_id(actor: Principal | None) -> int | None:
    return None if actor is None else actor.user_id
