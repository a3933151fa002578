"""Warnings and breaches: the sweep that fires them on time, and what the policy says to
do then (notify the assignee, the team's supervisors or the team; raise the priority; move
the ticket to another team). Every firing is written on the ticket's history and emitted as
``sla.warning`` / ``sla.breached`` (payload: ticket_id, clock_id, metric, due_at, target_s,
policy_id, policy, business; breaches add breached_at and late). Never commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kefu.accounts import service as accounts
from kefu.accounts.schemas import UserRead
from kefu.db import Ctx
from kefu.kit.errors import DomainError
from kefu.notifications import service as notifications
from kefu.notifications.schemas import NewNotification
from kefu.sla import repository as repo
from kefu.sla.models import SlaClock
from kefu.sla.policies import CompiledPolicy, load_policy_set
from kefu.tickets.models import PRIORITY_RANK, RANK_PRIORITY, Priority

log = logging.getLogger(__name__)
SWEEP_BATCH = 500
WARNING, BREACHED = "sla.warning", "sla.breached"


@dataclass
class SweepResult:
    warned: int = 0
    breached: int = 0
    more: bool = False


@dataclass(frozen=True)
class Firing:
    event: str
    clock_id: int
    ticket_id: int
    metric: str
    target_s: int
    due_at: datetime
    policy: CompiledPolicy | None
    assignee_id: int | None
    team_id: int | None
    priority_rank: int


def sweep(ctx: Ctx, limit: int = SWEEP_BATCH) -> SweepResult:
    """Fire every warning and breach that is due, oldest first, at most ``limit``."""
    now = ctx.now()
    rows = repo.due_clocks(ctx.session, now, limit)
    if not rows:
        return SweepResult()
    by_id = load_policy_set(ctx).by_id
    firings = [
        Firing(
            BREACHED if row.due_at <= now else WARNING,
            row.id,
            row.ticket_id,
            row.metric,
            row.target_s,
            row.due_at,
            by_id.get(row.policy_id or 0),
            row.assignee_id,
            row.team_id,
            row.priority,
        )
        for row in rows
    ]
    breaches = [f.clock_id for f in firings if f.event == BREACHED]
    warnings = [f.clock_id for f in firings if f.event == WARNING]
    repo.mark_fired(ctx.session, breaches, now, breached=True)
    repo.mark_fired(ctx.session, warnings, now, breached=False)
    for firing in firings:
        _emit(ctx, firing)
    _history(ctx, firings)
    _notify(ctx, firings)
    for firing in firings:
        _change_ticket(ctx, firing)
    return SweepResult(len(warnings), len(breaches), len(rows) == limit)


def record_late_breach(ctx: Ctx, clock: SlaClock, policy: CompiledPolicy | None) -> None:
    """A breach noticed only when the clock stopped or paused (the sweep was not running):
    recorded and emitted with ``late``, without escalation, since the moment has passed."""
    assert clock.due_at is not None
    firing = Firing(
        BREACHED, clock.id, clock.ticket_id, clock.metric, clock.target_s, clock.due_at,
        policy, None, None, 0,
    )  # fmt: skip
    _emit(ctx, firing, late=True)
    _history(ctx, [firing])


def _emit(ctx: Ctx, firing: Firing, late: bool = False) -> None:
    due_at = firing.due_at
    payload: dict[str, Any] = {
        "ticket_id": firing.ticket_id,
        "clock_id": firing.clock_id,
        "metric": firing.metric,
        "due_at": due_at.isoformat(),
        "target_s": firing.target_s,
        "policy_id": firing.policy.id if firing.policy else None,
        "policy": firing.policy.name if firing.policy else None,
        "business": firing.policy.business if firing.policy else False,
    }
    if firing.event == BREACHED:
        payload |= {"breached_at": due_at.isoformat(), "late": late}
    ctx.emit(firing.event, **payload)


def _history(ctx: Ctx, firings: list[Firing]) -> None:
    from kefu.tickets import service as tickets  # tickets calls the SLA hooks: a mutual need

    kinds = {WARNING: "sla_warning", BREACHED: "sla_breached"}
    tickets.record_history(
        ctx,
        None,
        [(f.ticket_id, kinds[f.event], f.metric, None, f.due_at.isoformat()) for f in firings],
    )


# -- escalation --------------------------------------------------------------------------------
def _escalation(firing: Firing) -> dict[str, Any]:
    if firing.policy is None:
        return {}
    return firing.policy.on_breach if firing.event == BREACHED else firing.policy.on_warning


@dataclass
class _People:
    ctx: Ctx
    users: list[UserRead] | None = None
    _cache: dict[tuple[str, int | None], list[int]] = field(default_factory=dict)

    def _all(self) -> list[UserRead]:
        if self.users is None:
            self.users = [u for u in accounts.list_users(self.ctx) if u.is_active]
        return self.users

    def supervisors(self, team_id: int | None) -> list[int]:
        key = ("supervisors", team_id)
        if key not in self._cache:
            leads = [u for u in self._all() if u.role == "supervisor"]
            in_team = [u.id for u in leads if team_id is not None and team_id in u.team_ids]
            self._cache[key] = in_team or [u.id for u in leads]
        return self._cache[key]

    def team(self, team_id: int | None) -> list[int]:
        if team_id is None:
            return []
        key = ("team", team_id)
        if key not in self._cache:
            self._cache[key] = [u.id for u in self._all() if team_id in u.team_ids]
        return self._cache[key]


def _notify(ctx: Ctx, firings: list[Firing]) -> None:
    people = _People(ctx)
    notes: list[NewNotification] = []
    for firing in firings:
        recipients: dict[int, None] = {}
        for who in _escalation(firing).get("notify", []):
            if who == "assignee" and firing.assignee_id is not None:
                recipients[firing.assignee_id] = None
            elif who == "supervisors":
                recipients.update(dict.fromkeys(people.supervisors(firing.team_id)))
            elif who == "team":
                recipients.update(dict.fromkeys(people.team(firing.team_id)))
        data = {
            "metric": firing.metric,
            "due_at": firing.due_at.isoformat(),
            "policy": firing.policy.name if firing.policy else None,
        }
        notes += [
            NewNotification(user_id=u, kind=firing.event, ticket_id=firing.ticket_id, data=data)
            for u in recipients
        ]
    if notes:
        notifications.notify(ctx, notes)


def _change_ticket(ctx: Ctx, firing: Firing) -> None:
    """Raise the priority and/or move the ticket, through the tickets service (history,
    events and the SLA hooks included). A refusal is written on the history, never raised."""
    from kefu.tickets import service as tickets  # tickets calls the SLA hooks: a mutual need
    from kefu.tickets.schemas import TicketUpdate

    escalation = _escalation(firing)
    changes: dict[str, Any] = {}
    priority = _raised(escalation.get("priority"), firing.priority_rank)
    if priority is not None:
        changes["priority"] = priority
    team_id = escalation.get("team_id")
    if team_id is not None and team_id != firing.team_id:
        changes["team_id"] = team_id
    if not changes:
        return
    mark = len(ctx.events)
    try:
        with ctx.session.begin_nested():
            tickets.update_ticket(ctx, None, firing.ticket_id, TicketUpdate(**changes))
    except DomainError as exc:
        del ctx.events[mark:]
        log.warning("SLA escalation of ticket %s refused: %s", firing.ticket_id, exc)
        entry = (firing.ticket_id, "sla_escalation_failed", firing.metric, None, exc.detail)
        tickets.record_history(ctx, None, [entry])


def _raised(step: str | None, rank: int) -> str | None:
    """The priority to raise to, or None when it is already that high."""
    if step is None:
        return None
    target = min(rank + 1, 3) if step == "raise" else PRIORITY_RANK[Priority(step)]
    return RANK_PRIORITY[target].value if target > rank else None
