"""JSON routes of business-hours calendars (supervisors and admins write, agents read)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from kefu.calendars import service as calendars
from kefu.calendars.schemas import BusinessTime, CalendarIn, CalendarList, CalendarRead
from kefu.kit.http import etag, parse_if_match
from kefu.security.deps import RuntimeDep, require
from kefu.security.permissions import Action, Principal

router = APIRouter(prefix="/api/v1", tags=["sla"])
Reader = Annotated[Principal, Depends(require(Action.sla_read))]
Writer = Annotated[Principal, Depends(require(Action.sla_write))]


@router.get("/calendars")
async def list_calendars(principal: Reader, runtime: RuntimeDep) -> CalendarList:
    return await runtime.db.read(calendars.list_calendars)


@router.post("/calendars", status_code=201)
async def create_calendar(
    data: CalendarIn, principal: Writer, runtime: RuntimeDep, response: Response
) -> CalendarRead:
    calendar = await runtime.db.write(calendars.create_calendar, principal, data)
    response.headers["Location"] = f"/api/v1/calendars/{calendar.id}"
    response.headers["ETag"] = etag(calendar.version)
    return calendar


@router.get("/calendars/{calendar_id}")
async def get_calendar(
    calendar_id: int, principal: Reader, runtime: RuntimeDep, response: Response
) -> CalendarRead:
    calendar = await runtime.db.read(calendars.get_calendar, calendar_id)
    response.headers["ETag"] = etag(calendar.version)
    return calendar


@router.put("/calendars/{calendar_id}")
async def replace_calendar(
    calendar_id: int,
    data: CalendarIn,
    principal: Writer,
    runtime: RuntimeDep,
    response: Response,
    if_match: Annotated[str | None, Header(description='The ETag you read, e.g. W/"3"')] = None,
) -> CalendarRead:
    """Replace the calendar as a whole; refused whole (422, each field at fault) when any
    part is wrong, and the version in force keeps running."""
    version = parse_if_match(if_match)
    calendar = await runtime.db.write(
        calendars.update_calendar, principal, calendar_id, data, version
    )
    response.headers["ETag"] = etag(calendar.version)
    return calendar


@router.delete("/calendars/{calendar_id}", status_code=204)
async def delete_calendar(calendar_id: int, principal: Writer, runtime: RuntimeDep) -> Response:
    await runtime.db.write(calendars.delete_calendar, principal, calendar_id)
    return Response(status_code=204)


@router.get("/calendars/{calendar_id}/business-time")
async def business_time(
    calendar_id: int,
    principal: Reader,
    runtime: RuntimeDep,
    start: datetime,
    end: datetime | None = None,
    seconds: Annotated[float | None, Query(description="Business seconds to add")] = None,
) -> BusinessTime:
    """Business seconds from start to end, or the instant ``seconds`` business seconds
    after start: the calendar's arithmetic, for checking a policy by hand."""
    return await runtime.db.read(calendars.business_time, calendar_id, start, end, seconds)
