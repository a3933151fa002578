"""Rules compiled to plain Python predicates and action plans; every fault reported with
its path (``conditions.all.1.op``) so the API answers 422 and the CLI names the YAML line.

A condition becomes a closure over a *facts* dict (``facts.py`` builds it: one key per
field, text fields also lower-cased under ``name~``), its value normalised once by the
builders of ``values.py``; a group checks its cheapest conditions first. Evaluating a rule
is then a handful of dict reads and comparisons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kefu.kit.errors import FieldError
from kefu.rules import catalogue as cat
from kefu.rules.actions_spec import CompiledAction, compile_actions
from kefu.rules.refs import Refs
from kefu.rules.values import (
    BUILDERS,
    COSTS,
    Compiling,
    Condition,
    Facts,
    Field,
    Loc,
    Predicate,
    emptiness,
    getter_of,
    true,
)

__all__ = ["CompiledRule", "Facts", "Predicate", "check_trigger", "compile_rule"]
MAX_NESTING = 6


@dataclass(frozen=True)
class CompiledRule:
    id: int
    name: str
    version: int
    position: int
    trigger: frozenset[str]
    subject: str
    matches: Predicate
    actions: tuple[CompiledAction, ...]
    needs: frozenset[str]
    statuses: frozenset[str] | None = None  # a time rule's statuses, when it names them

    @property
    def is_time(self) -> bool:
        return cat.TIME in self.trigger


def compile_rule(
    data: Mapping[str, Any],
    refs: Refs,
    loc: Loc,
    *,
    rule_id: int = 0,
    version: int = 0,
    position: int = 0,
) -> tuple[CompiledRule | None, list[FieldError]]:
    """The rule compiled, or None and every fault found."""
    trigger = list(data.get("trigger") or [])
    subject, errors = check_trigger(trigger, [*loc, "trigger"])
    state = Compiling(refs, subject or cat.TICKET, frozenset(trigger))
    matches = compile_group(state, data.get("conditions") or {"all": []}, [*loc, "conditions"], 0)
    actions, action_errors = compile_actions(
        data.get("actions") or [], refs, state.subject, [*loc, "actions"], macro=False
    )
    errors += state.errors + action_errors
    if errors or subject is None:
        return None, errors
    rule = CompiledRule(
        id=rule_id,
        name=str(data.get("name", "")),
        version=version,
        position=position,
        trigger=frozenset(trigger),
        subject=subject,
        matches=matches,
        actions=tuple(actions),
        needs=frozenset(state.needs | {n for a in actions for n in a.needs}),
        statuses=_statuses(data.get("conditions") or {}) if cat.TIME in trigger else None,
    )
    return rule, []


def check_trigger(trigger: Sequence[str], loc: Loc) -> tuple[str | None, list[FieldError]]:
    errors: list[FieldError] = []
    subjects = set()
    for index, name in enumerate(trigger):
        if name not in cat.SUBJECT_OF_TRIGGER:
            known = ", ".join([*cat.EVENTS, cat.TIME])
            errors.append(FieldError([*loc, index], f"'{name}' is not an event; use {known}"))
            continue
        subjects.add(cat.SUBJECT_OF_TRIGGER[name])
    if cat.TIME in trigger and len(trigger) > 1:
        errors.append(FieldError(loc, "a time automation has the trigger [time] alone"))
    if len(subjects) > 1:
        errors.append(FieldError(loc, "ticket events and agent events cannot share a rule"))
    if errors or not subjects:
        return None, errors
    return subjects.pop(), []


def _statuses(conditions: Mapping[str, Any]) -> frozenset[str] | None:
    """The statuses a time rule is limited to, read from its top-level ``all``, so the
    worker only walks those tickets."""
    for cond in conditions.get("all") or []:
        if isinstance(cond, dict) and cond.get("field") == "ticket.status":
            if cond.get("op") == "is":
                return frozenset({str(cond.get("value"))})
            if cond.get("op") == "in" and isinstance(cond.get("value"), list):
                return frozenset(str(v) for v in cond["value"])
    return None


# -- groups ----------------------------------------------------------------------------------
def compile_group(state: Compiling, node: Any, loc: Loc, depth: int) -> Predicate:
    if not isinstance(node, dict):
        return state.fail(loc, "must be a group {all: [...]} or {any: [...]}")
    keys = set(node)
    if keys - {"all", "any"} or len(keys) != 1:
        return state.fail(loc, "a group has exactly one key, all or any")
    if depth >= MAX_NESTING:
        return state.fail(loc, f"groups nest at most {MAX_NESTING} deep")
    kind = keys.pop()
    items = node[kind]
    if not isinstance(items, list):
        return state.fail([*loc, kind], "must be a list of conditions and groups")
    preds = [_compile_node(state, item, [*loc, kind, i], depth) for i, item in enumerate(items)]
    # Cheap checks first: a rule that fails on the channel never reads the text.
    preds.sort(key=lambda p: state.costs.get(id(p), 5))
    total = sum(state.costs.get(id(p), 5) for p in preds)
    return state.costed(_all_of(preds) if kind == "all" else _any_of(preds), total)


def _compile_node(state: Compiling, node: Any, loc: Loc, depth: int) -> Predicate:
    if isinstance(node, dict) and ("all" in node or "any" in node):
        return compile_group(state, node, loc, depth + 1)
    if not isinstance(node, dict):
        return state.fail(loc, "must be a condition {field, op, value} or a group")
    return compile_condition(state, node, loc)


def _all_of(preds: list[Predicate]) -> Predicate:
    if not preds:
        return true
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda f: a(f) and b(f)

    def every(f: Facts) -> bool:  # a plain loop: all() over a generator costs twice as much
        for pred in preds:  # noqa: SIM110
            if not pred(f):
                return False
        return True

    return every


def _any_of(preds: list[Predicate]) -> Predicate:
    if not preds:
        return lambda _f: False
    if len(preds) == 1:
        return preds[0]

    def some(f: Facts) -> bool:
        for pred in preds:  # noqa: SIM110
            if pred(f):
                return True
        return False

    return some


# -- one condition ---------------------------------------------------------------------------
def _resolve_field(state: Compiling, name: Any, loc: Loc) -> Field | None:
    if not isinstance(name, str):
        state.fail(loc, "must be a field name")
        return None
    for prefix, defs, facts_key in (
        (cat.CUSTOM_PREFIX, state.refs.ticket_fields, "ticket.custom_fields"),
        (cat.ATTRIBUTE_PREFIX, state.refs.customer_fields, "customer.attributes"),
    ):
        if name.startswith(prefix):
            return _custom_field(state, name, prefix, defs, facts_key, loc)
    spec = cat.FIELDS.get(name)
    if spec is None:
        state.fail(loc, f"'{name}' is not a field; see GET /api/v1/rules/catalogue")
        return None
    if spec.subject != state.subject:
        state.fail(
            loc, f"'{name}' is about the {spec.subject}, this rule about the {state.subject}"
        )
        return None
    if spec.events is not None and not (state.events & spec.events):
        state.fail(loc, f"'{name}' is only known on {', '.join(sorted(spec.events))}")
        return None
    state.needs.add(spec.needs)
    return Field(name, spec.kind, spec.choices, spec.open_choices)


def _custom_field(
    state: Compiling,
    name: str,
    prefix: str,
    defs: Mapping[str, tuple[str, tuple[str, ...]]],
    facts_key: str,
    loc: Loc,
) -> Field | None:
    key = name[len(prefix) :]
    if state.subject != cat.TICKET:
        state.fail(loc, f"'{name}' is about a ticket, this rule about the {state.subject}")
        return None
    state.needs.add("customer" if facts_key.startswith("customer") else "ticket")
    if key not in defs:
        if facts_key == "customer.attributes" and key:
            return Field(facts_key, cat.TEXT, custom=key)  # attributes need no definition
        state.fail(loc, f"no custom field with the key '{key}'")
        return None
    kind, options = defs[key]
    return Field(facts_key, cat.CUSTOM_KINDS.get(kind, cat.TEXT), options, not options, key)


def compile_condition(state: Compiling, node: dict[str, Any], loc: Loc) -> Predicate:
    extra = set(node) - {"field", "op", "value", "unit", "calendar"}
    if extra:
        return state.fail([*loc, sorted(extra)[0]], "is not part of a condition")
    spec = _resolve_field(state, node.get("field"), [*loc, "field"])
    if spec is None:
        return true
    op = node.get("op")
    if op not in cat.OPS[spec.kind]:
        allowed = ", ".join(cat.OPS[spec.kind])
        return state.fail([*loc, "op"], f"'{op}' does not apply to {node['field']}; use {allowed}")
    getter = getter_of(spec)
    if op in cat.EMPTY_OPS:
        return state.costed(emptiness(getter, op == "is_empty"), 1)
    predicate = BUILDERS[spec.kind](Condition(state, spec, getter, op, node, loc))
    cost = COSTS.get(spec.kind, 2) * (4 if op in ("matches", "not_matches") else 1)
    return state.costed(predicate, cost + (6 if spec.key == "now.business_hours" else 0))
