"""SLA clocks in the workspace: a cell in each inbox row and a section of the ticket's side
panel (the ``ticket_row`` and ``ticket_side`` slots of ``web/slots.py``). Green while on
track, amber inside the warning window, red once breached, grey while paused; each state
also has its own symbol and words, so colour is never the only sign."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from babel.dates import format_timedelta

from kefu.db import Ctx
from kefu.kit.durations import format_duration
from kefu.security.permissions import Principal
from kefu.sla import service
from kefu.sla.schemas import SlaBadge, SlaClockRead
from kefu.web import slots
from kefu.web.i18n import supported

ROW_TEMPLATE = "sla/_row_clock.html"
SIDE_TEMPLATE = "sla/_side_clocks.html"
SCRIPT_TEMPLATE = "sla/_script.html"  # the clocks tick in the browser between updates


@dataclass(frozen=True)
class ClockView:
    metric: str
    state: str  # ok, warning, breached, paused, met
    due_at: datetime | None
    time: str  # how long is left (or overdue, or was used), in the reader's language
    target: str = ""
    policy: str | None = None
    done_at: datetime | None = None
    warn_at: datetime | None = None


def install() -> None:
    slots.register("ticket_row", ROW_TEMPLATE, load=row_clocks)
    slots.register("ticket_side", SIDE_TEMPLATE, load=side_clocks)
    slots.register("header", SCRIPT_TEMPLATE)


def row_clocks(ctx: Ctx, me: Principal, ticket_ids: list[int]) -> dict[int, ClockView]:
    now = ctx.now()
    return {
        ticket_id: _badge_view(badge, now, me.language)
        for ticket_id, badge in service.badges(ctx, ticket_ids).items()
    }


def side_clocks(ctx: Ctx, me: Principal, ticket_ids: list[int]) -> dict[int, list[ClockView]]:
    now = ctx.now()
    return {
        ticket_id: [_clock_view(c, now, me.language) for c in service.ticket_clocks(ctx, ticket_id)]
        for ticket_id in ticket_ids
    }


def _badge_view(badge: SlaBadge, now: datetime, language: str) -> ClockView:
    state = _state(badge.status)
    return ClockView(
        metric=badge.metric.value,
        state=state,
        due_at=badge.due_at,
        time=_time(state, badge.due_at, badge.remaining_s, now, language),
        warn_at=badge.warn_at,
    )


def _clock_view(clock: SlaClockRead, now: datetime, language: str) -> ClockView:
    state = _state(clock.status)
    if clock.met_at is not None:
        # Finished: how far inside (or past) the target it ended, in the policy's time.
        time = _span(abs(clock.remaining_s or 0.0), language)
    else:
        time = _time(state, clock.due_at, clock.remaining_s, now, language)
    return ClockView(
        metric=clock.metric.value,
        state=state,
        due_at=clock.due_at,
        time=time,
        target=format_duration(clock.target_s),
        policy=clock.policy,
        done_at=clock.met_at,
        warn_at=clock.warn_at,
    )


def _state(status: str) -> str:
    return "ok" if status == "active" else status


def _time(
    state: str, due_at: datetime | None, remaining_s: float | None, now: datetime, language: str
) -> str:
    if state == "paused" or due_at is None:
        return _span(max(remaining_s or 0.0, 0.0), language)
    return _span(abs((due_at - now).total_seconds()), language)


def _span(seconds: float, language: str) -> str:
    return format_timedelta(
        timedelta(seconds=seconds), threshold=1.5, format="narrow", locale=supported(language)
    )
