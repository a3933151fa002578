"""SLA policies: validate, store, order, and compile them for matching. Never commits.

Policies are stored with team and calendar ids and shown with names, so a rename does not
break a policy and an export can be read by another kefu. Each process keeps the compiled
policy set in memory under the token of ``sla_config``; a change writes a new token in the
same transaction, so the next unit of work anywhere recompiles.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kefu.accounts import service as accounts
from kefu.calendars import service as calendars
from kefu.calendars.hours import ALWAYS, TimeScale
from kefu.db import Ctx
from kefu.kit.errors import Conflict, FieldError, Invalid, NotFound
from kefu.outbox import service as outbox
from kefu.security.permissions import Principal
from kefu.sla import repository as repo
from kefu.sla.models import Metric, SlaPolicy
from kefu.sla.schemas import (
    Escalation,
    PolicyIn,
    PolicyList,
    PolicyMatch,
    PolicyRead,
    Targets,
    warning_seconds,
)

Loc = list[str | int]
REAPPLY_KIND = "sla.reapply"


@dataclass(frozen=True)
class TicketFacts:
    """What policy matching and the clocks need to know of a ticket."""

    id: int
    status: str
    priority: str
    channel: str
    team_id: int | None
    requester_id: int
    responded: bool


@dataclass(frozen=True)
class CompiledPolicy:
    id: int
    name: str
    priorities: frozenset[str]
    tiers: frozenset[str]
    channels: frozenset[str]
    team_ids: frozenset[int] | None  # None: any team
    scale: TimeScale
    business: bool
    targets: Mapping[Metric, int]
    pause_on: frozenset[str]
    warning: str | None
    on_warning: dict[str, Any]
    on_breach: dict[str, Any]

    def matches(self, facts: TicketFacts, tier_of: Callable[[], str]) -> bool:
        if self.priorities and facts.priority not in self.priorities:
            return False
        if self.channels and facts.channel.lower() not in self.channels:
            return False
        if self.team_ids is not None and facts.team_id not in self.team_ids:
            return False
        return not self.tiers or tier_of().lower() in self.tiers

    def warn_before_s(self, target_s: int) -> int | None:
        return warning_seconds(self.warning, target_s)


@dataclass(frozen=True)
class PolicySet:
    token: str | None
    policies: tuple[CompiledPolicy, ...] = ()  # the enabled ones, in order
    by_id: Mapping[int, CompiledPolicy] = field(default_factory=dict)

    def match(self, facts: TicketFacts, tier_of: Callable[[], str]) -> CompiledPolicy | None:
        return next((p for p in self.policies if p.matches(facts, tier_of)), None)


EMPTY = PolicySet(None)
_compiled: dict[str, PolicySet] = {}
_lock = threading.Lock()
SESSION_KEY = "kefu.sla.policies"


# -- compiling -----------------------------------------------------------------------------
def load_policy_set(ctx: Ctx) -> PolicySet:
    """The enabled policies, compiled, read once per transaction: the writer's batch of many
    tickets and messages pays one primary-key read for the token, not one per hook (that
    read was a fifth of a ticket create's CPU). A change in the same transaction drops it
    (``config_changed``), and another process's change is seen by the next transaction."""
    cached = ctx.session.info.get(SESSION_KEY)
    if cached is None:
        cached = ctx.session.info[SESSION_KEY] = _load_policy_set(ctx)
    assert isinstance(cached, PolicySet)
    return cached


def _load_policy_set(ctx: Ctx) -> PolicySet:
    token = repo.config_token(ctx.session)
    if token is None:
        return EMPTY
    cached = _compiled.get(token)
    if cached is not None:
        return cached
    hours = calendars.hours_by_id(ctx)
    compiled = [_compile(p, hours) for p in repo.policies(ctx.session)]
    policy_set = PolicySet(
        token, tuple(p for p, on in compiled if on), {p.id: p for p, _ in compiled}
    )
    with _lock:
        if len(_compiled) > 16:
            _compiled.clear()
        _compiled[token] = policy_set
    return policy_set


def _compile(
    policy: SlaPolicy, hours: Mapping[int, tuple[str, TimeScale]]
) -> tuple[CompiledPolicy, bool]:
    d = policy.definition
    match = d.get("match", {})
    team_ids = match.get("team_ids") or []
    scale = ALWAYS if policy.calendar_id is None else hours[policy.calendar_id][1]
    compiled = CompiledPolicy(
        id=policy.id,
        name=policy.name,
        priorities=frozenset(match.get("priority", [])),
        tiers=frozenset(match.get("tier", [])),
        channels=frozenset(match.get("channel", [])),
        team_ids=frozenset(team_ids) if team_ids else None,
        scale=scale,
        business=policy.calendar_id is not None,
        targets={Metric(k): int(v) for k, v in d.get("targets", {}).items()},
        pause_on=frozenset(d.get("pause_on", [])),
        warning=d.get("warning"),
        on_warning=dict(d.get("on_warning", {})),
        on_breach=dict(d.get("on_breach", {})),
    )
    return compiled, policy.enabled


def config_changed(ctx: Ctx) -> None:
    """Policies or calendars changed: name the new set, and re-apply it to open tickets in
    the background (durably, through the outbox)."""
    token = uuid.uuid4().hex
    repo.set_config_token(ctx.session, token, ctx.now())
    ctx.session.info.pop(SESSION_KEY, None)
    outbox.enqueue(
        ctx, REAPPLY_KIND, {"token": token, "after_id": 0}, key=f"{REAPPLY_KIND}:{token}"
    )


def calendar_changed(ctx: Ctx, calendar_id: int) -> None:
    if repo.policy_names_using_calendar(ctx.session, calendar_id):
        config_changed(ctx)


def names_using_calendar(ctx: Ctx, calendar_id: int) -> list[str]:
    return repo.policy_names_using_calendar(ctx.session, calendar_id)


# -- stored form <-> the form people write ------------------------------------------------
@dataclass
class _Names:
    team_ids: dict[str, int]
    team_names: dict[int, str]

    @classmethod
    def load(cls, ctx: Ctx) -> _Names:
        teams = accounts.list_teams(ctx)
        return cls({t.name: t.id for t in teams}, {t.id: t.name for t in teams})

    def team_name(self, team_id: int) -> str:
        return self.team_names.get(team_id, f"#{team_id} (deleted)")


def _stored(ctx: Ctx, data: PolicyIn, names: _Names, loc: Loc) -> tuple[dict[str, Any], int | None]:
    """(definition, calendar id) with names resolved; every unknown name is listed."""
    errors: list[FieldError] = []
    team_ids = []
    for index, name in enumerate(data.match.team):
        if name in names.team_ids:
            team_ids.append(names.team_ids[name])
        else:
            errors.append(FieldError([*loc, "match", "team", index], f"no team named '{name}'"))
    calendar_id = None
    if data.calendar is not None:
        calendar_id = calendars.id_by_name(ctx, data.calendar)
        if calendar_id is None:
            errors.append(FieldError([*loc, "calendar"], f"no calendar named '{data.calendar}'"))
    escalations = {}
    for phase in ("on_warning", "on_breach"):
        escalation: Escalation = getattr(data, phase)
        stored = escalation.model_dump(exclude={"team"}) | {"team_id": None}
        if escalation.team is not None:
            stored["team_id"] = names.team_ids.get(escalation.team)
            if stored["team_id"] is None:
                msg = f"no team named '{escalation.team}'"
                errors.append(FieldError([*loc, phase, "team"], msg))
        escalations[phase] = stored
    if errors:
        raise Invalid(errors)
    match = data.match.model_dump(mode="json", exclude={"team"}) | {"team_ids": team_ids}
    definition = {
        "description": data.description,
        "match": match,
        "targets": {m.value: s for m, s in data.targets.seconds().items()},
        "pause_on": list(data.pause_on),
        "warning": data.warning,
        **escalations,
    }
    return definition, calendar_id


def policy_in(policy: SlaPolicy, names: _Names, calendar_names: Mapping[int, str]) -> PolicyIn:
    d = policy.definition
    match = dict(d.get("match", {}))
    teams = [names.team_name(i) for i in match.pop("team_ids", [])]
    return PolicyIn(
        name=policy.name,
        description=d.get("description", ""),
        enabled=policy.enabled,
        match=PolicyMatch(**match, team=teams),
        calendar=None if policy.calendar_id is None else calendar_names[policy.calendar_id],
        targets=Targets(**d.get("targets", {})),
        pause_on=d.get("pause_on", []),
        warning=d.get("warning"),
        on_warning=_escalation(d.get("on_warning", {}), names),
        on_breach=_escalation(d.get("on_breach", {}), names),
    )


def _escalation(stored: dict[str, Any], names: _Names) -> Escalation:
    team_id = stored.get("team_id")
    return Escalation(
        notify=stored.get("notify", []),
        priority=stored.get("priority"),
        team=None if team_id is None else names.team_name(team_id),
    )


def _read(policy: SlaPolicy, names: _Names, calendar_names: Mapping[int, str]) -> PolicyRead:
    return PolicyRead(
        **policy_in(policy, names, calendar_names).model_dump(exclude={"position"}),
        id=policy.id,
        position=policy.position,
        version=policy.version,
        created_at=policy.created_at,
        updated_at=policy.updated_at,
    )


def _calendar_names(ctx: Ctx) -> dict[int, str]:
    return {c.id: c.name for c in calendars.list_calendars(ctx).items}


# -- reads ---------------------------------------------------------------------------------
def list_policies(ctx: Ctx) -> PolicyList:
    names, calendar_names = _Names.load(ctx), _calendar_names(ctx)
    return PolicyList(items=[_read(p, names, calendar_names) for p in repo.policies(ctx.session)])


def _require(ctx: Ctx, policy_id: int) -> SlaPolicy:
    policy = repo.get_policy(ctx.session, policy_id)
    if policy is None:
        raise NotFound("SLA policy", policy_id)
    return policy


def get_policy(ctx: Ctx, policy_id: int) -> PolicyRead:
    return _read(_require(ctx, policy_id), _Names.load(ctx), _calendar_names(ctx))


# -- writes --------------------------------------------------------------------------------
def _check_name(ctx: Ctx, name: str, policy_id: int | None, loc: Loc) -> None:
    other = repo.policy_by_name(ctx.session, name)
    if other is not None and other.id != policy_id:
        raise Invalid([FieldError([*loc, "name"], f"a policy named '{name}' exists")])


def create_policy(
    ctx: Ctx, actor: Principal | None, data: PolicyIn, loc: Loc | None = None
) -> PolicyRead:
    loc = loc or ["body"]
    _check_name(ctx, data.name, None, loc)
    definition, calendar_id = _stored(ctx, data, _Names.load(ctx), loc)
    now = ctx.now()
    policy = repo.add_policy(
        ctx.session,
        {
            "name": data.name,
            "position": len(repo.policies(ctx.session)),
            "enabled": data.enabled,
            "calendar_id": calendar_id,
            "definition": definition,
            "version": 1,
            "updated_by_id": None if actor is None else actor.user_id,
            "created_at": now,
            "updated_at": now,
        },
    )
    if data.position is not None:
        _move(ctx, policy, data.position)
    config_changed(ctx)
    ctx.emit("sla_policy.created", policy_id=policy.id)
    return get_policy(ctx, policy.id)


def update_policy(
    ctx: Ctx,
    actor: Principal | None,
    policy_id: int,
    data: PolicyIn,
    expected_version: int | None = None,
    loc: Loc | None = None,
) -> PolicyRead:
    """Replace a policy as a whole; refused whole when any part is wrong."""
    loc = loc or ["body"]
    policy = _require(ctx, policy_id)
    if expected_version is not None and expected_version != policy.version:
        raise Conflict(
            f"SLA policy {policy_id} is at version {policy.version}, you edited version "
            f"{expected_version}; reload and apply your change again"
        )
    _check_name(ctx, data.name, policy_id, loc)
    definition, calendar_id = _stored(ctx, data, _Names.load(ctx), loc)
    values = {"name": data.name, "enabled": data.enabled, "calendar_id": calendar_id}
    values["definition"] = definition
    if any(getattr(policy, k) != v for k, v in values.items()):
        for key, value in values.items():
            setattr(policy, key, value)
        policy.version += 1
        policy.updated_at = ctx.now()
        policy.updated_by_id = None if actor is None else actor.user_id
        config_changed(ctx)
        ctx.emit("sla_policy.updated", policy_id=policy.id, version=policy.version)
    if data.position is not None and data.position != policy.position:
        _move(ctx, policy, data.position)
        config_changed(ctx)
    return get_policy(ctx, policy.id)


def delete_policy(ctx: Ctx, actor: Principal | None, policy_id: int) -> None:
    repo.delete_policy(ctx.session, _require(ctx, policy_id))
    _renumber(repo.policies(ctx.session))
    config_changed(ctx)
    ctx.emit("sla_policy.deleted", policy_id=policy_id)


def reorder(ctx: Ctx, actor: Principal | None, ids: list[int]) -> PolicyList:
    """Put the listed policies first, in that order; the others keep theirs after them."""
    current = list(repo.policies(ctx.session))
    by_id = {p.id: p for p in current}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        msg = f"no SLA policy with id {', '.join(map(str, unknown))}"
        raise Invalid([FieldError(["body", "ids"], msg)])
    listed = [by_id[i] for i in dict.fromkeys(ids)]
    _renumber(listed + [p for p in current if p.id not in set(ids)])
    config_changed(ctx)
    ctx.emit("sla_policy.reordered", policy_ids=[p.id for p in listed])
    return list_policies(ctx)


def _move(ctx: Ctx, policy: SlaPolicy, position: int) -> None:
    others = [p for p in repo.policies(ctx.session) if p.id != policy.id]
    others.insert(min(position, len(others)), policy)
    _renumber(others)


def _renumber(ordered: Sequence[SlaPolicy]) -> None:
    for index, policy in enumerate(ordered):
        if policy.position != index:
            policy.position = index
