"""Rules and macros as one document: exported to YAML by ``kefu rules export`` (and
``GET /api/v1/rules/export``), read back by ``kefu rules import``. An import is all or
nothing: every fault in the document is listed with its path, and nothing changes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kefu.db import Ctx
from kefu.kit.errors import FieldError, Invalid
from kefu.rules import engine, macros, service
from kefu.rules.refs import Refs
from kefu.rules.schemas import (
    ImportResult,
    MacroEntry,
    MacroIn,
    RuleEntry,
    RuleIn,
    RulesDocument,
)
from kefu.security.permissions import Principal

Loc = list[str | int]


def export_document(ctx: Ctx) -> RulesDocument:
    rule_fields = set(RuleIn.model_fields) - {"position"}
    macro_fields = set(MacroIn.model_fields) - {"position"}
    return RulesDocument(
        rules=[
            RuleEntry(**r.model_dump(include=rule_fields)) for r in service.list_rules(ctx).items
        ],
        macros=[
            MacroEntry(**m.model_dump(include=macro_fields)) for m in macros.list_macros(ctx).items
        ],
    )


def import_document(
    ctx: Ctx,
    actor: Principal | None,
    doc: RulesDocument,
    prune: bool = False,
    loc: Loc | None = None,
) -> ImportResult:
    """Create or replace rules and macros by name; rules take the document's order."""
    prefix: Loc = ["body"] if loc is None else loc
    result = ImportResult()
    refs = engine.load_refs(ctx)
    errors = _duplicates(doc, prefix)
    errors += _import(ctx, actor, _RULES, doc.rules, prefix, result, refs)
    errors += _import(ctx, actor, _MACROS, doc.macros, prefix, result, refs)
    if prune and not errors:
        keep = {r.name for r in doc.rules}
        for rule in service.list_rules(ctx).items:
            if rule.name not in keep:
                service.delete_rule(ctx, actor, rule.id)
                result.rules_deleted.append(rule.name)
    if errors:
        raise Invalid(errors, f"{len(errors)} problem(s) in the document; nothing was changed")
    return result


def _duplicates(doc: RulesDocument, prefix: Loc) -> list[FieldError]:
    errors = []
    for key, names in (
        ("rules", [r.name for r in doc.rules]),
        ("macros", [m.name for m in doc.macros]),
    ):
        counts = Counter(names)
        for index, name in enumerate(names):
            if counts[name] > 1:
                where: Loc = [*prefix, key, index, "name"]
                errors.append(FieldError(where, f"'{name}' appears more than once"))
    return errors


@dataclass(frozen=True)
class _Kind:
    """How to list, create and replace one kind of item of the document."""

    key: str
    existing: Callable[[Ctx], dict[str, int]]
    create: Callable[..., Any]
    update: Callable[..., Any]


_RULES = _Kind(
    "rules",
    lambda ctx: {r.name: r.id for r in service.list_rules(ctx).items},
    lambda ctx, actor, data, loc, refs: service.create_rule(ctx, actor, data, loc, refs),
    lambda ctx, actor, id_, data, loc, refs: service.update_rule(
        ctx, actor, id_, data, loc=loc, refs=refs
    ),
)
_MACROS = _Kind(
    "macros",
    lambda ctx: {m.name: m.id for m in macros.list_macros(ctx).items},
    macros.create_macro,
    macros.update_macro,
)


def _import(
    ctx: Ctx,
    actor: Principal | None,
    kind: _Kind,
    items: Sequence[RuleIn | MacroIn],
    prefix: Loc,
    result: ImportResult,
    refs: Refs,
) -> list[FieldError]:
    """Create or replace each item by name, in the document's order."""
    errors: list[FieldError] = []
    existing = kind.existing(ctx)
    for index, data in enumerate(items):
        loc: Loc = [*prefix, kind.key, index]
        placed = data.model_copy(update={"position": index})
        try:
            if data.name in existing:
                kind.update(ctx, actor, existing[data.name], placed, loc, refs)
                getattr(result, f"{kind.key}_updated").append(data.name)
            else:
                kind.create(ctx, actor, placed, loc, refs)
                getattr(result, f"{kind.key}_created").append(data.name)
        except Invalid as exc:
            errors += exc.errors
    return errors
