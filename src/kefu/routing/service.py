"""Agent seats: state with break reasons, capacity per media, skills, languages, presence,
and the state history that occupancy and utilisation are computed from.

Seats live in routing (not in a separate ``agents`` domain) because every rule about them
is a routing rule: which states receive offers, what capacity means, what a missed offer
does. A seat is created the first time an agent, supervisor or admin touches it.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from kefu.accounts import service as accounts
from kefu.accounts.models import Role
from kefu.accounts.schemas import UserRead
from kefu.db import Ctx
from kefu.kit.errors import Conflict, NotFound, invalid
from kefu.routing import repository as repo
from kefu.routing import transitions as tr
from kefu.routing.core import READY, AgentState
from kefu.routing.models import AgentSeat, BreakReason
from kefu.routing.schemas import (
    BreakReasonIn,
    BreakReasonRead,
    BreakReasonUpdate,
    SeatRead,
    SeatUpdate,
    StateChange,
    StateSpan,
)
from kefu.security.permissions import Principal

ROUTED_ROLES = frozenset({Role.admin, Role.supervisor, Role.agent})
SETTABLE = frozenset(
    {AgentState.available, AgentState.on_break, AgentState.offline, AgentState.after_call_work}
)
HANDLING = frozenset({AgentState.busy.value, AgentState.after_call_work.value})
SYSTEM_REASONS = {tr.MISSED_OFFERS: "Missed offers"}


# -- seats ----------------------------------------------------------------------------------
def ensure_seat(ctx: Ctx, user_id: int, *, lock: bool = True) -> AgentSeat:
    seat = repo.get_seat(ctx.session, user_id, lock=lock)
    if seat is not None:
        return seat
    user = accounts.get_user(ctx, user_id)
    if user.role not in ROUTED_ROLES or not user.is_active:
        raise invalid(["path", "user_id"], f"{user.name} ({user.role}) takes no routed work")
    return tr.new_seat(ctx, user_id, user.language)


def seat_read(ctx: Ctx, seat: AgentSeat, user: UserRead, load: Counter[str]) -> SeatRead:
    return SeatRead(
        user_id=seat.user_id,
        name=user.name,
        state=seat.state,
        reason=seat.reason,
        state_since=seat.state_since,
        state_until=seat.state_until,
        capacity=dict(seat.capacity),
        blocks={k: list(v) for k, v in seat.blocks.items()},
        skills=dict(seat.skills),
        languages=list(seat.languages),
        team_ids=user.team_ids,
        max_no_answer=seat.max_no_answer,
        missed_in_row=seat.missed_in_row,
        cooldown_s=seat.cooldown_s,
        cooldown_until=seat.cooldown_until,
        load={m: n for m, n in load.items() if n},
        heartbeat_at=seat.heartbeat_at,
    )


def read_seat(ctx: Ctx, user_id: int) -> SeatRead:
    """The seat as stored, or the one a first state change would create."""
    user = accounts.get_user(ctx, user_id)
    seat = repo.get_seat(ctx.session, user_id)
    if seat is None:
        now = ctx.now()
        seat = AgentSeat(
            user_id=user_id,
            state=AgentState.offline.value,
            state_since=now,
            idle_since=now,
            capacity=dict(tr.DEFAULT_CAPACITY),
            blocks={},
            skills={},
            missed_in_row=0,
            languages=[user.language],
            max_no_answer=3,
            cooldown_s=10,
            version=0,
        )
    return seat_read(ctx, seat, user, repo.load_of(ctx.session, [user_id])[user_id])


def list_seats(ctx: Ctx) -> list[SeatRead]:
    seats = repo.list_seats(ctx.session)
    users = {u.id: u for u in accounts.list_users(ctx)}
    loads = repo.seats_with_load(ctx.session)
    return [
        seat_read(ctx, s, users[s.user_id], loads.get(s.user_id, Counter()))
        for s in seats
        if s.user_id in users
    ]


def update_seat(ctx: Ctx, user_id: int, data: SeatUpdate) -> SeatRead:
    seat = ensure_seat(ctx, user_id)
    given = data.model_dump(exclude_unset=True)
    for name in ("capacity", "blocks", "skills", "languages", "max_no_answer", "cooldown_s"):
        value = given.get(name)
        if value is not None:
            setattr(seat, name, value)
    tr.touch(ctx, seat)
    ctx.emit("routing.seat.updated", user_id=user_id)
    return read_seat(ctx, user_id)


# -- state ----------------------------------------------------------------------------------
def change_state(ctx: Ctx, actor: Principal, user_id: int, data: StateChange) -> SeatRead:
    """An agent sets their own state, or a supervisor sets someone's."""
    if data.state not in SETTABLE:
        raise invalid(
            ["body", "state"],
            "busy is set by kefu while you hold work; choose available, break, "
            "after_call_work or offline",
        )
    reason = check_reason(ctx, data.state, data.reason)
    seat = ensure_seat(ctx, user_id)
    source = "agent" if actor.user_id == user_id else "supervisor"
    if data.state == AgentState.available and (seat.missed_in_row or seat.cooldown_until):
        # Saying "available" ends a cool-down at once; the dispatcher must hear of it even
        # when the state itself does not change.
        seat.missed_in_row, seat.cooldown_until = 0, None
        tr.touch(ctx, seat)
        ctx.emit("routing.seat.updated", user_id=user_id)
    tr.apply_state(ctx, seat, data.state.value, reason, source=source, actor_id=actor.user_id)
    return read_seat(ctx, user_id)


def check_reason(ctx: Ctx, state: AgentState, reason: str | None) -> str | None:
    if state != AgentState.on_break:
        if reason:
            raise invalid(["body", "reason"], "a reason goes with the break state only")
        return None
    if not reason:
        raise invalid(["body", "reason"], "choose the reason of the break")
    if reason in SYSTEM_REASONS:
        return reason
    found = repo.get_reason(ctx.session, reason)
    if found is None or not found.active:
        known = [r.code for r in repo.list_reasons(ctx.session) if r.active]
        choices = ", ".join(known) or "none defined yet"
        raise invalid(["body", "reason"], f"'{reason}' is not a break reason ({choices})")
    return reason


def heartbeat(ctx: Ctx, user_id: int) -> None:
    """The agent's browser is there (its socket is open and answering)."""
    seat = repo.get_seat(ctx.session, user_id)
    if seat is not None:
        seat.heartbeat_at = ctx.now()


def set_offline_gone_quiet(ctx: Ctx, grace_s: float) -> list[int]:
    """Agents whose browser stopped answering ``grace_s`` ago go offline; their offers go
    back to the queue first in line."""
    gone = repo.seats_gone_quiet(ctx.session, ctx.now() - timedelta(seconds=grace_s))
    for seat in repo.lock_seats(ctx.session, gone).values():
        tr.apply_state(ctx, seat, AgentState.offline.value, tr.CONNECTION_LOST)
    return gone


def end_wrap_ups(ctx: Ctx) -> list[int]:
    done = repo.seats_done_wrapping_up(ctx.session, ctx.now())
    for seat in repo.lock_seats(ctx.session, done).values():
        if seat.state == AgentState.after_call_work:
            tr.apply_state(ctx, seat, AgentState.available.value)
    return done


def start_wrap_up(ctx: Ctx, seat: AgentSeat, wrap_up_s: int) -> None:
    """After-call work, timed by the queue the finished item came from."""
    if seat.state in READY and wrap_up_s > 0:
        until = ctx.now() + timedelta(seconds=wrap_up_s)
        tr.apply_state(ctx, seat, AgentState.after_call_work.value, until=until)
    else:
        tr.refresh_busy(ctx, seat)


# -- history --------------------------------------------------------------------------------
def state_history(
    ctx: Ctx, user_id: int, since: datetime, until: datetime
) -> tuple[list[StateSpan], dict[str, float]]:
    """The spans overlapping [since, until), and seconds per state clipped to it."""
    accounts.get_user(ctx, user_id)
    rows = repo.spans(ctx.session, user_id, since, until)
    seconds: dict[str, float] = {}
    end_of_now = min(until, ctx.now())
    for row in rows:
        start, end = max(row.started_at, since), min(row.ended_at or end_of_now, until)
        if end > start:
            seconds[row.state] = seconds.get(row.state, 0.0) + (end - start).total_seconds()
    spans = [
        StateSpan(
            state=r.state,
            reason=r.reason,
            source=r.source,
            actor_id=r.actor_id,
            started_at=r.started_at,
            ended_at=r.ended_at,
        )
        for r in rows
    ]
    return spans, seconds


def occupancy(seconds: dict[str, float]) -> tuple[float | None, float | None]:
    """(occupancy, utilisation): handling time over ready time, and over signed-in time."""
    handling = sum(seconds.get(s, 0.0) for s in HANDLING)
    ready = handling + seconds.get(AgentState.available.value, 0.0)
    signed_in = sum(v for s, v in seconds.items() if s != AgentState.offline)
    return (
        handling / ready if ready else None,
        handling / signed_in if signed_in else None,
    )


# -- break reasons --------------------------------------------------------------------------
def list_reasons(ctx: Ctx) -> list[BreakReasonRead]:
    rows = [
        BreakReasonRead(code=r.code, label=r.label, active=r.active)
        for r in repo.list_reasons(ctx.session)
    ]
    system = [
        BreakReasonRead(code=code, label=label, active=True, system=True)
        for code, label in SYSTEM_REASONS.items()
    ]
    return rows + system


def create_reason(ctx: Ctx, data: BreakReasonIn) -> BreakReasonRead:
    if data.code in SYSTEM_REASONS or repo.get_reason(ctx.session, data.code) is not None:
        raise Conflict(f"The break reason {data.code} exists already")
    row = BreakReason(code=data.code, label=data.label, active=True, created_at=ctx.now())
    repo.add_reason(ctx.session, row)
    return BreakReasonRead(code=row.code, label=row.label, active=row.active)


def update_reason(ctx: Ctx, code: str, data: BreakReasonUpdate) -> BreakReasonRead:
    row = repo.get_reason(ctx.session, code)
    if row is None:
        raise NotFound("Break reason", code)
    if data.label is not None:
        row.label = data.label
    if data.active is not None:
        row.active = data.active
    return BreakReasonRead(code=row.code, label=row.label, active=row.active)
