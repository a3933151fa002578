"""The enabled rules, compiled and indexed by event, cached per process under the token of
``rules_config``: a rule change (or a change of a team, agent, queue, calendar, custom
field or webhook a rule may name) writes a new token in the same transaction, so the next
unit of work anywhere recompiles. Evaluating an event then costs a dict lookup for its
rules and one predicate call per rule.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from kefu.accounts import service as accounts
from kefu.calendars import service as calendars
from kefu.db import Ctx
from kefu.fields import service as fields
from kefu.kit.cache import TTLCache, per_transaction
from kefu.kit.errors import FieldError
from kefu.rules import catalogue as cat
from kefu.rules import repository as repo
from kefu.rules.compiler import CompiledRule, compile_rule
from kefu.rules.models import Rule
from kefu.rules.refs import Refs

SESSION_KEY = "kefu.rules.set"


@dataclass(frozen=True)
class RuleSet:
    token: str | None
    rules: tuple[CompiledRule, ...] = ()  # enabled and compiled, in order
    by_event: Mapping[str, tuple[CompiledRule, ...]] = field(default_factory=dict)
    broken: Mapping[int, list[FieldError]] = field(default_factory=dict)

    def for_event(self, name: str) -> tuple[CompiledRule, ...]:
        return self.by_event.get(name, ())

    def listens(self, name: str) -> bool:
        return name in self.by_event

    @property
    def time_rules(self) -> tuple[CompiledRule, ...]:
        return self.by_event.get(cat.TIME, ())


EMPTY = RuleSet(None)
_compiled: dict[str, RuleSet] = {}
_lock = threading.Lock()


def build(rules: list[CompiledRule], token: str | None = None) -> RuleSet:
    by_event: dict[str, list[CompiledRule]] = {}
    for rule in sorted(rules, key=lambda r: (r.position, r.id)):
        for name in rule.trigger:
            by_event.setdefault(name, []).append(rule)
    return RuleSet(
        token,
        tuple(sorted(rules, key=lambda r: (r.position, r.id))),
        {name: tuple(found) for name, found in by_event.items()},
    )


def load_rule_set(ctx: Ctx) -> RuleSet:
    """The enabled rules, compiled; one primary-key read when nothing changed."""
    token = repo.config_token(ctx.session)
    if token is None:
        return EMPTY
    cached = _compiled.get(token)
    if cached is not None:
        return cached
    refs = load_refs(ctx)
    compiled: list[CompiledRule] = []
    broken: dict[int, list[FieldError]] = {}
    for rule in repo.rules(ctx.session):
        if not rule.enabled:
            continue
        result, errors = compile_stored(rule, refs)
        if result is None:
            broken[rule.id] = errors
        else:
            compiled.append(result)
    rule_set = build(compiled, token)
    rule_set = RuleSet(token, rule_set.rules, rule_set.by_event, broken)
    with _lock:
        if len(_compiled) > 16:
            _compiled.clear()
        _compiled[token] = rule_set
    return rule_set


# What the emit hook checks on every event: kept a second per database in the process, so
# most transactions pay no read; a change here (or seen through the bus from another
# process) clears it at once, and any other process sees a change within the second.
RECENT: TTLCache[str, RuleSet] = TTLCache(1.0, max_entries=64)


def session_rule_set(ctx: Ctx) -> RuleSet:
    """The rule set for this unit of work: no read when the process read it just now."""
    return per_transaction(ctx.session, SESSION_KEY, RECENT, lambda: load_rule_set(ctx))


def compile_stored(rule: Rule, refs: Refs) -> tuple[CompiledRule | None, list[FieldError]]:
    return compile_rule(
        rule.definition, refs, [], rule_id=rule.id, version=rule.version, position=rule.position
    )


def changed(ctx: Ctx) -> None:
    """A rule, or something rules name, changed: every process recompiles."""
    repo.set_config_token(ctx.session, uuid.uuid4().hex, ctx.now())
    ctx.session.info.pop(SESSION_KEY, None)
    RECENT.clear()


def load_refs(ctx: Ctx) -> Refs:
    from kefu.routing import queues  # routing builds on tickets; looked up when compiling
    from kefu.webhooks import service as webhooks

    teams = accounts.list_teams(ctx)
    users = [u for u in accounts.list_users(ctx) if u.is_active]
    hours = calendars.hours_by_id(ctx)
    definitions = fields.list_definitions(ctx)
    return Refs(
        teams={t.name.strip().lower(): t.id for t in teams},
        team_names={t.id: t.name for t in teams},
        users={u.email.lower(): u.id for u in users},
        queues={q.name.strip().lower(): q.id for q in queues.list_queues(ctx)},
        calendars=dict(hours.values()),
        webhooks=webhooks.endpoint_ids(ctx),
        ticket_fields={
            d.key: (d.type.value, tuple(d.options))
            for d in definitions
            if d.entity.value == "ticket" and d.active
        },
        customer_fields={
            d.key: (d.type.value, tuple(d.options))
            for d in definitions
            if d.entity.value == "customer" and d.active
        },
    )
