"""Calendars and SLA policies as one document: exported to YAML by ``kefu sla export`` (and
``GET /api/v1/sla-policies/export``), read back by ``kefu sla import``. An import is all or
nothing: every fault in the document is listed with its path, and nothing changes."""

from __future__ import annotations

from collections import Counter

from kefu.calendars import service as calendars
from kefu.calendars.schemas import CalendarIn
from kefu.db import Ctx
from kefu.kit.errors import FieldError, Invalid
from kefu.security.permissions import Principal
from kefu.sla import policies
from kefu.sla.schemas import ImportResult, PolicyIn, SlaDocument

Loc = list[str | int]


def export_document(ctx: Ctx) -> SlaDocument:
    cal_fields = set(CalendarIn.model_fields)
    policy_fields = set(PolicyIn.model_fields) - {"position"}
    return SlaDocument(
        calendars=[
            CalendarIn(**c.model_dump(include=cal_fields))
            for c in calendars.list_calendars(ctx).items
        ],
        sla_policies=[
            PolicyIn(**p.model_dump(include=policy_fields))
            for p in policies.list_policies(ctx).items
        ],
    )


def import_document(
    ctx: Ctx, actor: Principal | None, doc: SlaDocument, prune: bool = False, loc: Loc | None = None
) -> ImportResult:
    """Create or replace by name; policies take the document's order, first first."""
    prefix: Loc = ["body"] if loc is None else loc
    result = ImportResult()
    errors = _duplicates(doc, prefix)
    errors += _import_calendars(ctx, actor, doc, prefix, result)
    errors += _import_policies(ctx, actor, doc, prefix, result)
    if prune and not errors:
        keep = {p.name for p in doc.sla_policies}
        for policy in policies.list_policies(ctx).items:
            if policy.name not in keep:
                policies.delete_policy(ctx, actor, policy.id)
                result.policies_deleted.append(policy.name)
    if errors:
        raise Invalid(errors, f"{len(errors)} problem(s) in the document; nothing was changed")
    return result


def _duplicates(doc: SlaDocument, prefix: Loc) -> list[FieldError]:
    errors = []
    lists = [("calendars", [c.name for c in doc.calendars])]
    lists.append(("sla_policies", [p.name for p in doc.sla_policies]))
    for key, names in lists:
        counts = Counter(names)
        for index, name in enumerate(names):
            if counts[name] > 1:
                loc: Loc = [*prefix, key, index, "name"]
                errors.append(FieldError(loc, f"'{name}' appears more than once"))
    return errors


def _import_calendars(
    ctx: Ctx, actor: Principal | None, doc: SlaDocument, prefix: Loc, result: ImportResult
) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, data in enumerate(doc.calendars):
        loc: Loc = [*prefix, "calendars", index]
        existing = calendars.id_by_name(ctx, data.name)
        try:
            if existing is None:
                calendars.create_calendar(ctx, actor, data, loc)
                result.calendars_created.append(data.name)
            else:
                calendars.update_calendar(ctx, actor, existing, data, loc=loc)
                result.calendars_updated.append(data.name)
        except Invalid as exc:
            errors += exc.errors
    return errors


def _import_policies(
    ctx: Ctx, actor: Principal | None, doc: SlaDocument, prefix: Loc, result: ImportResult
) -> list[FieldError]:
    errors: list[FieldError] = []
    existing = {p.name: p.id for p in policies.list_policies(ctx).items}
    for index, data in enumerate(doc.sla_policies):
        loc: Loc = [*prefix, "sla_policies", index]
        placed = data.model_copy(update={"position": index})
        try:
            if data.name in existing:
                policies.update_policy(ctx, actor, existing[data.name], placed, loc=loc)
                result.policies_updated.append(data.name)
            else:
                policies.create_policy(ctx, actor, placed, loc)
                result.policies_created.append(data.name)
        except Invalid as exc:
            errors += exc.errors
    return errors
