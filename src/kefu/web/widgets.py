"""Custom field widgets: the form names of each field type, and their values read back.

A field ``key`` of type number is the input ``cf.key`` (``attr.key`` for customers), and so
on. Values are converted to the types the field service validates (numbers, booleans,
lists); an empty input clears the field. Invalid input is reported on the field's own key.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData

from kefu.fields.schemas import FieldDefinitionRead
from kefu.kit.errors import FieldError, Invalid

CONTAINERS = {"cf": "custom_fields", "attr": "attributes"}


def _number(raw: str) -> int | float:
    value = float(raw.replace(",", ""))
    return int(value) if value.is_integer() and "." not in raw else value


def _value(definition: FieldDefinitionRead, form: FormData, name: str, current: Any) -> Any:
    if definition.type == "multi_select":
        chosen = [v for v in form.getlist(name) if isinstance(v, str) and v]
        return chosen or None
    if definition.type == "checkbox":
        ticked = form.get(name) in ("on", "true", "1")
        # An untouched, never-set box stays unset rather than becoming "false" in history.
        return True if ticked else (False if current is not None else None)
    raw = form.get(name)
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        return None
    if definition.type == "number":
        return _number(text)
    return text


def field_values(
    form: FormData,
    definitions: list[FieldDefinitionRead],
    current: dict[str, Any],
    prefix: str = "cf",
) -> dict[str, Any]:
    """Values of the active fields present in the form (``prefix.key``), typed."""
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for definition in definitions:
        name = f"{prefix}.{definition.key}"
        if not definition.active or f"{name}.shown" not in form:
            continue
        try:
            values[definition.key] = _value(definition, form, name, current.get(definition.key))
        except ValueError:
            loc: list[str | int] = ["body", CONTAINERS[prefix], definition.key]
            errors.append(FieldError(loc, "must be a number"))
    if errors:
        raise Invalid(errors)
    return values


def draft_of(form: FormData) -> dict[str, Any]:
    """What the user typed, to show it again beside the errors."""
    return {k: (form.getlist(k) if len(form.getlist(k)) > 1 else form.get(k)) for k in form}
