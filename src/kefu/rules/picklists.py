"""The catalogue as data for pick-lists: events, fields with their operators and values,
actions and their settings, and the names of this install (teams, agents, queues,
calendars, webhooks, custom fields). The API serves it in English; the console page in the
reader's language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kefu.db import Ctx
from kefu.rules import catalogue as cat
from kefu.rules import engine, templates
from kefu.web.labels import LABELS

Gettext = Callable[[str], str]


def _identity(text: str) -> str:
    return text


def _value_label(kind: str, value: str, _: Gettext) -> str:
    name = LABELS.get(kind, {}).get(value)
    if isinstance(name, tuple):
        return _(name[1])
    return _(name) if name else value


def catalogue(ctx: Ctx, _: Gettext = _identity) -> dict[str, Any]:
    refs = engine.load_refs(ctx)
    fields = [_field(spec, _) for spec in cat.FIELDS.values()]
    for key, (kind, options) in sorted(refs.ticket_fields.items()):
        fields.append(_custom(cat.CUSTOM_PREFIX + key, key, kind, options, _("Custom field")))
    for key, (kind, options) in sorted(refs.customer_fields.items()):
        fields.append(_custom(cat.ATTRIBUTE_PREFIX + key, key, kind, options, _("Customer")))
    return {
        "events": _events(_),
        "fields": fields,
        "ops": {kind: list(ops) for kind, ops in cat.OPS.items()},
        "op_labels": {op: _(label) for op, label in cat.OP_LABELS.items()},
        "units": {unit: _(label) for unit, label in cat.UNIT_LABELS.items()},
        "actions": [
            {
                "type": a.type,
                "label": _(a.label),
                "subjects": sorted(a.subjects),
                "in_macros": a.in_macros,
            }
            for a in cat.ACTIONS.values()
        ],
        "settable": {
            name: [{"value": v, "label": _value_label(name, v, _)} for v in values]
            for name, values in cat.SETTABLE.items()
        },
        "recipients": list(cat.RECIPIENTS),
        "priority_steps": list(cat.PRIORITY_STEPS),
        "placeholders": list(templates.PLACEHOLDERS),
        "teams": sorted(refs.team_names.values()),
        "agents": sorted(refs.users),
        "queues": sorted(refs.queues),
        "calendars": sorted(refs.calendars),
        "webhooks": sorted(refs.webhooks),
        "custom_fields": sorted(refs.ticket_fields),
        "max_depth": cat.MAX_DEPTH,
    }


def _events(_: Gettext) -> list[dict[str, Any]]:
    found = [
        {
            "name": e.name,
            "subject": e.subject,
            "label": _(e.label),
            "note": _(e.note) if e.note else "",
        }
        for e in cat.EVENTS.values()
    ]
    label = _("Time automation (checked every minute)")
    return [*found, {"name": cat.TIME, "subject": cat.TICKET, "label": label, "note": ""}]


def _field(spec: cat.FieldSpec, _: Gettext) -> dict[str, Any]:
    label_kind = spec.name.rsplit(".", 1)[-1]
    return {
        "name": spec.name,
        "kind": spec.kind,
        "label": _(spec.label),
        "subject": spec.subject,
        "events": sorted(spec.events) if spec.events is not None else None,
        "choices": [
            {"value": str(c), "label": _value_label(label_kind, str(c), _)} for c in spec.choices
        ],
        "open": spec.open_choices,
    }


def _custom(name: str, key: str, kind: str, options: tuple[str, ...], group: str) -> dict[str, Any]:
    return {
        "name": name,
        "kind": cat.CUSTOM_KINDS.get(kind, cat.TEXT),
        "label": f"{group}: {key}",
        "subject": cat.TICKET,
        "events": None,
        "choices": [{"value": o, "label": o} for o in options],
        "open": not options,
    }
