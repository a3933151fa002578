"""Rules as data: validate, store, order, version. Never commits.

A rule is refused as a whole when any part is wrong (422, every fault with its path); the
stored version keeps running. Each save keeps the previous state as a version (who, when,
which parts changed), and writes a new token so every process recompiles.
"""

from __future__ import annotations

from typing import Any

from kefu.accounts import service as accounts
from kefu.db import Ctx
from kefu.kit.errors import Conflict, FieldError, Invalid, NotFound
from kefu.kit.pagination import decode_id_cursor, encode_cursor
from kefu.rules import engine
from kefu.rules import repository as repo
from kefu.rules.compiler import compile_rule
from kefu.rules.models import Rule, RuleVersion
from kefu.rules.refs import Refs
from kefu.rules.schemas import (
    FiringPage,
    FiringRead,
    Person,
    RuleIn,
    RuleList,
    RuleRead,
    RuleVersionRead,
)
from kefu.security.permissions import Principal

Loc = list[str | int]
DEFINITION_KEYS = ("name", "description", "enabled", "trigger", "conditions", "actions")


def definition_of(data: RuleIn) -> dict[str, Any]:
    return data.model_dump(mode="json", include=set(DEFINITION_KEYS))


def check(ctx: Ctx, data: RuleIn, loc: Loc, rule_id: int | None, refs: Refs | None = None) -> None:
    """Every fault of the rule, or nothing: raises Invalid with each path."""
    errors: list[FieldError] = []
    _, problems = compile_rule(definition_of(data), refs or engine.load_refs(ctx), loc)
    errors += problems
    other = repo.rule_by_name(ctx.session, data.name)
    if other is not None and other.id != rule_id:
        errors.append(FieldError([*loc, "name"], f"a rule named '{data.name}' exists"))
    if errors:
        raise Invalid(errors, f"{len(errors)} problem(s) in the rule; nothing was changed")


def _names(ctx: Ctx, user_ids: list[int | None]) -> dict[int, str]:
    wanted = {u for u in user_ids if u is not None}
    return {u.id: u.name for u in accounts.list_users(ctx) if u.id in wanted} if wanted else {}


def rule_read(rule: Rule, names: dict[int, str]) -> RuleRead:
    who = rule.updated_by_id
    return RuleRead(
        **rule.definition,
        id=rule.id,
        position=rule.position,
        version=rule.version,
        updated_by=Person(id=who, name=names.get(who, "")) if who is not None else None,
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )


def _require(ctx: Ctx, rule_id: int) -> Rule:
    rule = repo.get_rule(ctx.session, rule_id)
    if rule is None:
        raise NotFound("Rule", rule_id)
    return rule


# -- reads -----------------------------------------------------------------------------------
def list_rules(ctx: Ctx) -> RuleList:
    rules = repo.rules(ctx.session)
    names = _names(ctx, [r.updated_by_id for r in rules])
    return RuleList(items=[rule_read(r, names) for r in rules])


def get_rule(ctx: Ctx, rule_id: int) -> RuleRead:
    rule = _require(ctx, rule_id)
    return rule_read(rule, _names(ctx, [rule.updated_by_id]))


def rule_problems(ctx: Ctx) -> dict[int, list[FieldError]]:
    """Enabled rules that no longer compile (a team they name was deleted, ...)."""
    return dict(engine.load_rule_set(ctx).broken)


def list_versions(ctx: Ctx, rule_id: int) -> list[RuleVersionRead]:
    _require(ctx, rule_id)
    rows = repo.versions(ctx.session, rule_id)
    names = _names(ctx, [v.changed_by_id for v in rows])
    return [_version_read(v, names) for v in rows]


def _version_read(v: RuleVersion, names: dict[int, str]) -> RuleVersionRead:
    who = v.changed_by_id
    return RuleVersionRead(
        version=v.version,
        definition=v.definition,
        changed=list(v.changed),
        changed_by=Person(id=who, name=names.get(who, "")) if who is not None else None,
        changed_at=v.changed_at,
    )


# -- writes ----------------------------------------------------------------------------------
def create_rule(
    ctx: Ctx,
    actor: Principal | None,
    data: RuleIn,
    loc: Loc | None = None,
    refs: Refs | None = None,
) -> RuleRead:
    check(ctx, data, loc or ["body"], None, refs)
    now = ctx.now()
    rules = list(repo.rules(ctx.session))
    position = len(rules) if data.position is None else min(data.position, len(rules))
    rule = Rule(
        name=data.name,
        position=position,
        enabled=data.enabled,
        definition=definition_of(data),
        version=1,
        updated_by_id=_actor_id(actor),
        created_at=now,
        updated_at=now,
    )
    repo.add(ctx.session, rule)
    _place(ctx, rules, rule, position)
    _keep_version(ctx, rule, list(DEFINITION_KEYS), actor)
    engine.changed(ctx)
    ctx.emit("rule.created", rule_id=rule.id)
    return get_rule(ctx, rule.id)


def update_rule(
    ctx: Ctx,
    actor: Principal | None,
    rule_id: int,
    data: RuleIn,
    expected_version: int | None = None,
    loc: Loc | None = None,
    refs: Refs | None = None,
) -> RuleRead:
    rule = _require(ctx, rule_id)
    if expected_version is not None and expected_version != rule.version:
        raise Conflict(
            f"Rule {rule_id} is at version {rule.version}, you edited version "
            f"{expected_version}; reload and apply your change again"
        )
    check(ctx, data, loc or ["body"], rule_id, refs)
    new = definition_of(data)
    changed = [k for k in DEFINITION_KEYS if rule.definition.get(k) != new.get(k)]
    if data.position is not None and data.position != rule.position:
        others = [r for r in repo.rules(ctx.session) if r.id != rule.id]
        _place(ctx, others, rule, data.position)
        changed.append("position")
    if not changed:
        return get_rule(ctx, rule.id)
    rule.name, rule.enabled, rule.definition = data.name, data.enabled, new
    rule.version += 1
    rule.updated_at, rule.updated_by_id = ctx.now(), _actor_id(actor)
    _keep_version(ctx, rule, changed, actor)
    engine.changed(ctx)
    ctx.emit("rule.updated", rule_id=rule.id, version=rule.version, changed=changed)
    return get_rule(ctx, rule.id)


def set_enabled(ctx: Ctx, actor: Principal | None, rule_id: int, enabled: bool) -> RuleRead:
    rule = _require(ctx, rule_id)
    data = RuleIn.model_validate({**rule.definition, "enabled": enabled})
    return update_rule(ctx, actor, rule_id, data)


def restore_version(ctx: Ctx, actor: Principal | None, rule_id: int, number: int) -> RuleRead:
    """Bring back an earlier version (as a new version, so history only grows)."""
    _require(ctx, rule_id)
    old = repo.version(ctx.session, rule_id, number)
    if old is None:
        raise NotFound(f"Version {number} of rule", rule_id)
    return update_rule(ctx, actor, rule_id, RuleIn.model_validate(old.definition))


def delete_rule(ctx: Ctx, actor: Principal | None, rule_id: int) -> None:
    rule = _require(ctx, rule_id)
    repo.delete_obj(ctx.session, rule)
    _renumber(list(repo.rules(ctx.session)))
    engine.changed(ctx)
    ctx.emit("rule.deleted", rule_id=rule_id)


def reorder(ctx: Ctx, actor: Principal | None, ids: list[int]) -> RuleList:
    rules = {r.id: r for r in repo.rules(ctx.session)}
    if sorted(ids) != sorted(rules):
        raise Invalid([FieldError(["body", "ids"], "list every rule id exactly once")])
    for position, rule_id in enumerate(ids):
        rules[rule_id].position = position
    engine.changed(ctx)
    ctx.emit("rule.reordered", ids=ids)
    return list_rules(ctx)


def _place(ctx: Ctx, others: list[Rule], rule: Rule, position: int) -> None:
    ordered = [r for r in others if r.id != rule.id]
    ordered.insert(min(position, len(ordered)), rule)
    _renumber(ordered)


def _renumber(rules: list[Rule]) -> None:
    for index, rule in enumerate(rules):
        rule.position = index


def _keep_version(ctx: Ctx, rule: Rule, changed: list[str], actor: Principal | None) -> None:
    repo.add(
        ctx.session,
        RuleVersion(
            rule_id=rule.id,
            version=rule.version,
            definition=dict(rule.definition),
            changed=changed,
            changed_by_id=_actor_id(actor),
            changed_at=ctx.now(),
        ),
    )


def _actor_id(actor: Principal | None) -> int | None:
    return None if actor is None else actor.user_id


def list_firings(
    ctx: Ctx, rule_id: int | None, ticket_id: int | None, cursor: str | None, limit: int = 50
) -> FiringPage:
    """The firing log, newest first."""
    if rule_id is not None:
        _require(ctx, rule_id)
    before = decode_id_cursor(cursor)
    rows = list(repo.firings(ctx.session, rule_id, ticket_id, before, limit + 1))
    items = [FiringRead.model_validate(r, from_attributes=True) for r in rows[:limit]]
    nxt = encode_cursor([items[-1].id]) if len(rows) > limit else None
    return FiringPage(items=items, next_cursor=nxt)
