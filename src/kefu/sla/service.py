"""Each ticket's SLA clocks: started, paused, resumed, re-targeted and stopped in the same
transaction as the ticket change that causes it (the tickets service calls these hooks),
so a crash can never leave a ticket without its clocks. Never commits.

A clock's bookkeeping: ``elapsed_s`` business seconds used before ``running_since``; while
it runs, ``due_at`` and ``warn_at`` are precomputed with the policy's calendar and
``next_check_at`` tells the sweep (``sla.sweep``) when to act.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from kefu.customers import service as customers
from kefu.db import Ctx
from kefu.sla import repository as repo
from kefu.sla.models import ClockStatus, Metric, SlaClock
from kefu.sla.policies import CompiledPolicy, PolicySet, TicketFacts, load_policy_set
from kefu.sla.repository import AnyRow
from kefu.sla.schemas import SlaBadge, SlaClockRead
from kefu.tickets.models import RANK_PRIORITY, Ticket

FINAL_TICKET = ("solved", "closed")
MATCH_FIELDS = frozenset({"priority", "channel", "team_id", "requester_id"})
STATUS_FIELDS = frozenset({"status", "first_responded_at"})


def facts_of(source: Ticket | AnyRow) -> TicketFacts:
    """What matching needs, from a ticket or from a row of ``repo.FACT_COLUMNS``."""
    return TicketFacts(
        id=source.id,
        status=source.status,
        priority=RANK_PRIORITY[source.priority].value,
        channel=source.channel,
        team_id=source.team_id,
        requester_id=source.requester_id,
        responded=source.first_responded_at is not None,
    )


# -- hooks the tickets service calls inside its unit of work ----------------------------------
def ticket_created(ctx: Ctx, ticket_id: int) -> list[SlaClockRead]:
    """Start the clocks of a new ticket; its clocks as the ticket shows them."""
    policies = load_policy_set(ctx)
    if not policies.policies:
        return []
    row = repo.ticket_facts(ctx.session, [ticket_id])[0]
    clocks = reconcile(ctx, facts_of(row), policies, [], tier=row.tier)
    return _reads(clocks, policies)


def ticket_changed(ctx: Ctx, ticket: Ticket, fields: Iterable[str]) -> None:
    if not (set(fields) & (MATCH_FIELDS | STATUS_FIELDS)):
        return
    policies = load_policy_set(ctx)
    if policies.token is None:
        return
    reconcile(ctx, facts_of(ticket), policies, repo.clocks_of(ctx.session, ticket.id))


def message_added(ctx: Ctx, ticket_id: int, author_type: str, visibility: str) -> None:
    """An agent's public reply meets the response clocks; a customer's message after the
    first response starts a next-response clock."""
    if visibility != "public" or author_type not in ("agent", "customer"):
        return
    policies = load_policy_set(ctx)
    if policies.token is None:
        return
    now = ctx.now()
    clocks = repo.clocks_of(ctx.session, ticket_id)
    responding = [
        c for c in _open(clocks) if c.metric in (Metric.first_response, Metric.next_response)
    ]
    if author_type == "agent":
        for clock in responding:
            stop(ctx, clock, policies.by_id.get(clock.policy_id or 0), now)
        return
    if responding:
        return
    row = repo.ticket_facts(ctx.session, [ticket_id])[0]
    facts = facts_of(row)
    policy = policies.match(facts, lambda: row.tier)
    if policy is None or Metric.next_response not in policy.targets:
        return
    if facts.status in FINAL_TICKET or not facts.responded:
        return
    start(ctx, ticket_id, policy, Metric.next_response, now, facts.status in policy.pause_on)


# -- reconciling a ticket's clocks with its policy and status ---------------------------------
def reconcile(
    ctx: Ctx,
    facts: TicketFacts,
    policies: PolicySet,
    clocks: Sequence[SlaClock],
    tier: str | None = None,
) -> list[SlaClock]:
    """Bring the clocks in line with the first matching policy and the ticket's status;
    the ticket's clocks, new ones included."""
    now = ctx.now()
    policy = policies.match(facts, lambda: tier if tier is not None else _tier(ctx, facts))
    for clock in _open(clocks):
        if policy is None or clock.metric not in policy.targets:
            cancel(clock, now)
        elif clock.breached_at is not None:
            clock.policy_id = policy.id  # a breach stands; its target and due time stay
        elif clock.policy_id != policy.id or clock.target_s != policy.targets[Metric(clock.metric)]:
            retarget(ctx, clock, policy, now)
    if policy is None:
        return list(clocks)
    final = facts.status in FINAL_TICKET
    clocks = [*clocks, *([] if final else _start_missing(ctx, facts, policy, clocks, now))]
    for clock in _open(clocks):
        if final:
            stop(ctx, clock, policy, now)
        elif facts.status in policy.pause_on:
            pause(ctx, clock, policy, now)
        else:
            resume(ctx, clock, policy, now)
    return clocks


def _start_missing(
    ctx: Ctx,
    facts: TicketFacts,
    policy: CompiledPolicy,
    clocks: Sequence[SlaClock],
    now: datetime,
) -> list[SlaClock]:
    """Clocks the policy asks for that the ticket lacks (started paused; the caller sets
    them running). A resolution clock stopped by a solve goes on when the ticket reopens."""
    latest = {clock.metric: clock for clock in clocks}
    started = []
    first = latest.get(Metric.first_response)
    if Metric.first_response in policy.targets and first is None and not facts.responded:
        started.append(start(ctx, facts.id, policy, Metric.first_response, now, paused=True))
    resolution = latest.get(Metric.resolution)
    if Metric.resolution in policy.targets:
        if resolution is None or resolution.status == ClockStatus.cancelled:
            started.append(start(ctx, facts.id, policy, Metric.resolution, now, paused=True))
        elif resolution.stopped_at is not None:
            reopen(resolution, policy, now)
    return started


def _open(clocks: Iterable[SlaClock]) -> list[SlaClock]:
    return [c for c in clocks if c.stopped_at is None and c.status != ClockStatus.cancelled]


def _tier(ctx: Ctx, facts: TicketFacts) -> str:
    return customers.require_customer(ctx, facts.requester_id).tier


# -- one clock's transitions -------------------------------------------------------------------
def start(
    ctx: Ctx, ticket_id: int, policy: CompiledPolicy, metric: Metric, now: datetime, paused: bool
) -> SlaClock:
    clock = repo.add_clock(
        ctx.session,
        {
            "ticket_id": ticket_id,
            "policy_id": policy.id,
            "metric": metric.value,
            "status": ClockStatus.paused if paused else ClockStatus.active,
            "target_s": policy.targets[metric],
            "elapsed_s": 0.0,
            "started_at": now,
            "running_since": None if paused else now,
            "updated_at": now,
        },
    )
    if not paused:
        schedule(clock, policy, now)
    return clock


def schedule(clock: SlaClock, policy: CompiledPolicy, now: datetime) -> None:
    """Precompute the running clock's warning and due instants, and its next check; a
    clock whose figures do not change is not written. A breached clock keeps the due time
    it breached at: nothing is left to fire, and lateness counts from there."""
    assert clock.running_since is not None
    if clock.breached_at is not None:
        _assign(clock, now, status=ClockStatus.breached, warn_at=None, next_check_at=None)
        return
    scale, since = policy.scale, clock.running_since
    remaining = max(clock.target_s - clock.elapsed_s, 0.0)
    due = scale.add(since, timedelta(seconds=remaining))
    warned, warn = clock.warned_at, None
    before = policy.warn_before_s(clock.target_s)
    if before:
        point = scale.add(since, timedelta(seconds=max(remaining - before, 0.0)))
        if warned is not None and point > now:
            warned = None  # a longer target: the warning lies ahead again
        if warned is None:
            warn = point
    if warn is not None:
        status, check = ClockStatus.active, warn
    else:
        status, check = (ClockStatus.warning if warned else ClockStatus.active), due
    _assign(
        clock, now, due_at=due, warn_at=warn, warned_at=warned, status=status, next_check_at=check
    )


def _assign(clock: SlaClock, now: datetime, **values: object) -> None:
    changed = {key: value for key, value in values.items() if getattr(clock, key) != value}
    for key, value in changed.items():
        setattr(clock, key, value)
    if changed:
        clock.updated_at = now


def _checkpoint(clock: SlaClock, policy: CompiledPolicy | None, now: datetime) -> None:
    """Fold the running stretch into ``elapsed_s``."""
    if clock.running_since is not None:
        if policy is not None:
            clock.elapsed_s += policy.scale.between(clock.running_since, now).total_seconds()
        else:
            clock.elapsed_s += max((now - clock.running_since).total_seconds(), 0.0)
        clock.running_since = None


def pause(ctx: Ctx, clock: SlaClock, policy: CompiledPolicy, now: datetime) -> None:
    if clock.running_since is None:
        return
    settle(ctx, clock, policy, now)
    _checkpoint(clock, policy, now)
    clock.warn_at = clock.next_check_at = None
    if clock.breached_at is None:
        clock.status, clock.due_at = ClockStatus.paused, None
    clock.updated_at = now


def resume(ctx: Ctx, clock: SlaClock, policy: CompiledPolicy, now: datetime) -> None:
    if clock.running_since is not None:
        return
    clock.running_since = now
    schedule(clock, policy, now)


def stop(ctx: Ctx, clock: SlaClock, policy: CompiledPolicy | None, now: datetime) -> None:
    """The target was reached (a reply, a solve): met, unless it had breached."""
    settle(ctx, clock, policy, now)
    _checkpoint(clock, policy, now)
    clock.stopped_at, clock.next_check_at, clock.warn_at = now, None, None
    clock.status = ClockStatus.breached if clock.breached_at else ClockStatus.met
    clock.updated_at = now


def reopen(clock: SlaClock, policy: CompiledPolicy, now: datetime) -> None:
    """A stopped clock goes on (paused until ``resume``)."""
    clock.stopped_at, clock.running_since = None, None
    clock.status = ClockStatus.breached if clock.breached_at else ClockStatus.paused
    clock.policy_id = policy.id
    if clock.breached_at is None:
        clock.target_s = policy.targets[Metric(clock.metric)]
    clock.updated_at = now


def cancel(clock: SlaClock, now: datetime) -> None:
    clock.status, clock.stopped_at = ClockStatus.cancelled, now
    clock.running_since = clock.next_check_at = clock.warn_at = None
    clock.updated_at = now


def retarget(ctx: Ctx, clock: SlaClock, policy: CompiledPolicy, now: datetime) -> None:
    """Another policy (or target) applies now: the time used so far counts against it. A
    clock that has breached keeps its target and due time."""
    running = clock.running_since is not None
    settle(ctx, clock, policy, now)
    clock.policy_id = policy.id
    if clock.breached_at is not None:
        return
    _checkpoint(clock, policy, now)
    clock.target_s = policy.targets[Metric(clock.metric)]
    if running:
        clock.running_since = now
        schedule(clock, policy, now)
    clock.updated_at = now


def settle(ctx: Ctx, clock: SlaClock, policy: CompiledPolicy | None, now: datetime) -> None:
    """A clock that passed its due time unnoticed (the sweep had not run yet) is recorded
    as breached at its due time before it changes state."""
    if clock.breached_at is not None or clock.running_since is None or clock.due_at is None:
        return
    if clock.due_at > now:
        return
    from kefu.sla import escalation  # escalation calls the tickets service, which calls us

    clock.breached_at, clock.status, clock.next_check_at = clock.due_at, ClockStatus.breached, None
    escalation.record_late_breach(ctx, clock, policy)


def recompute(ctx: Ctx, clocks: Iterable[SlaClock], policies: PolicySet) -> None:
    """Due and warning times again, with the policy's current calendar and warning, for
    the stretch each running clock has run since it last started (after a policy or
    calendar change). Clocks whose times stay the same are not written."""
    now = ctx.now()
    for clock in _open(clocks):
        policy = policies.by_id.get(clock.policy_id or 0)
        if policy is not None and clock.running_since is not None:
            schedule(clock, policy, now)


# -- what a ticket shows ---------------------------------------------------------------------
def ticket_clocks(ctx: Ctx, ticket_id: int) -> list[SlaClockRead]:
    """The latest clock of each metric, for ``GET /api/v1/tickets/{id}``."""
    clocks = repo.clocks_of(ctx.session, ticket_id)
    return _reads(clocks, load_policy_set(ctx)) if clocks else []


def _reads(clocks: Sequence[SlaClock], policies: PolicySet) -> list[SlaClockRead]:
    latest = {c.metric: c for c in clocks if c.status != ClockStatus.cancelled}
    return [
        _clock_read(latest[m], policies.by_id.get(latest[m].policy_id or 0))
        for m in Metric
        if m in latest
    ]


def _clock_read(clock: SlaClock, policy: CompiledPolicy | None) -> SlaClockRead:
    return SlaClockRead(
        metric=Metric(clock.metric),
        target_s=clock.target_s,
        due_at=clock.due_at,
        status=clock.status,
        policy=policy.name if policy else None,
        started_at=clock.started_at,
        warn_at=clock.warn_at,
        met_at=clock.stopped_at if clock.stopped_at else None,
        breached_at=clock.breached_at,
        business=policy.business if policy else False,
        remaining_s=_remaining(clock),
    )


def _remaining(clock: SlaClock) -> float | None:
    """Target time left in the policy's time when the clock is not running (paused or
    stopped); negative when it ended late."""
    if clock.running_since is not None:
        return None
    return clock.target_s - clock.elapsed_s


def badges(ctx: Ctx, ticket_ids: Iterable[int]) -> dict[int, SlaBadge]:
    """For a list of tickets, one query: each ticket's most pressing open clock."""
    by_ticket: dict[int, list[SlaClock]] = {}
    for clock in repo.open_clocks_of_tickets(ctx.session, ticket_ids):
        by_ticket.setdefault(clock.ticket_id, []).append(clock)
    return {ticket_id: _badge(clocks) for ticket_id, clocks in by_ticket.items()}


def _badge(clocks: list[SlaClock]) -> SlaBadge:
    breached = [c for c in clocks if c.breached_at is not None]
    running = [c for c in clocks if c.running_since is not None and c.due_at is not None]
    if breached:
        pick = max(breached, key=lambda c: c.breached_at or c.started_at)
    elif running:
        pick = min(running, key=lambda c: c.due_at or c.started_at)
    else:
        pick = min(clocks, key=lambda c: c.target_s - c.elapsed_s)
    return SlaBadge(
        metric=Metric(pick.metric),
        due_at=pick.due_at,
        status=pick.status,
        warn_at=pick.warn_at,
        remaining_s=_remaining(pick),
    )


# -- re-applying the policies to open tickets (after a policy or calendar change) --------------
def reapply_batch(ctx: Ctx, token: str, after_id: int, limit: int = 500) -> int | None:
    """Re-match the next open tickets after ``after_id`` and recompute their running clocks;
    the last ticket id handled, or None when done (or when a newer change took over)."""
    policies = load_policy_set(ctx)
    if policies.token != token:
        return None
    rows = repo.open_ticket_facts_after(ctx.session, after_id, limit)
    clocks = repo.clocks_of_tickets(ctx.session, [row.id for row in rows])
    for row in rows:
        reconcile(ctx, facts_of(row), policies, clocks[row.id], tier=row.tier)
        recompute(ctx, clocks[row.id], policies)
    return rows[-1].id if len(rows) == limit else None
