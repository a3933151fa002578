"""Custom field definitions, and validation of the values written against them."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from kefu.db import Ctx
from kefu.fields import repository as repo
from kefu.fields.models import FieldDefinition, FieldType
from kefu.fields.schemas import FieldDefinitionCreate, FieldDefinitionRead, FieldDefinitionUpdate
from kefu.kit.errors import Conflict, FieldError, Invalid, NotFound

MAX_TEXT = 10_000


def definition_read(d: FieldDefinition) -> FieldDefinitionRead:
    return FieldDefinitionRead.model_validate(d, from_attributes=True)


def list_definitions(ctx: Ctx, entity: str | None = None) -> list[FieldDefinitionRead]:
    return [definition_read(d) for d in repo.list_definitions(ctx.session, entity)]


def _get(ctx: Ctx, definition_id: int) -> FieldDefinition:
    definition = repo.get_definition(ctx.session, definition_id)
    if definition is None:
        raise NotFound("Field definition", definition_id)
    return definition


def get_definition(ctx: Ctx, definition_id: int) -> FieldDefinitionRead:
    return definition_read(_get(ctx, definition_id))


def create_definition(ctx: Ctx, data: FieldDefinitionCreate) -> FieldDefinitionRead:
    if repo.find_definition(ctx.session, data.entity, data.key) is not None:
        raise Conflict(f"A {data.entity} field with key '{data.key}' already exists")
    now = ctx.now()
    definition = FieldDefinition(**data.model_dump(), created_at=now, updated_at=now)
    repo.add(ctx.session, definition)
    ctx.emit("field.created", field_id=definition.id, entity=definition.entity)
    return definition_read(definition)


def update_definition(
    ctx: Ctx, definition_id: int, data: FieldDefinitionUpdate
) -> FieldDefinitionRead:
    definition = _get(ctx, definition_id)
    changes = data.model_dump(exclude_unset=True)
    if "options" in changes:
        needs = definition.type in (FieldType.select, FieldType.multi_select)
        if needs and not changes["options"]:
            raise Invalid(
                [FieldError(["body", "options"], f"a {definition.type} field needs options")]
            )
        if not needs and changes["options"]:
            raise Invalid(
                [FieldError(["body", "options"], f"a {definition.type} field takes no options")]
            )
    for key, value in changes.items():
        if value is not None:
            setattr(definition, key, value)
    definition.updated_at = ctx.now()
    ctx.emit("field.updated", field_id=definition.id, entity=definition.entity)
    return definition_read(definition)


def delete_definition(ctx: Ctx, definition_id: int) -> None:
    definition = _get(ctx, definition_id)
    repo.delete(ctx.session, definition)
    ctx.emit("field.deleted", field_id=definition_id, entity=definition.entity)


# -- values ------------------------------------------------------------------------------
def clean_values(ctx: Ctx, entity: str, values: dict[str, Any], loc: str) -> dict[str, Any]:
    """Validate the values being written; ``None`` clears a field. Raises with every fault."""
    if not values:
        return {}
    definitions = {d.key: d for d in repo.list_definitions(ctx.session, entity, active_only=True)}
    cleaned: dict[str, Any] = {}
    errors: list[FieldError] = []
    for key, value in values.items():
        definition = definitions.get(key)
        if definition is None:
            errors.append(FieldError(["body", loc, key], "no such field is defined"))
            continue
        try:
            cleaned[key] = None if value is None else _clean(definition, value)
        except ValueError as exc:
            errors.append(FieldError(["body", loc, key], str(exc)))
    if errors:
        raise Invalid(errors)
    return cleaned


def filter_value(
    ctx: Ctx, entity: str, key: str, raw: str, loc: list[str | int]
) -> tuple[str, Any]:
    """(field type, value) of ``key:raw`` written in a query string, typed as the field is."""
    definition = repo.find_definition(ctx.session, entity, key)
    if definition is None:
        raise Invalid([FieldError(loc, f"no {entity} field '{key}' is defined")])
    kind = FieldType(definition.type)
    try:
        if kind is FieldType.number:
            return kind, _clean(definition, float(raw))
        if kind is FieldType.checkbox:
            return kind, _parse_bool(raw)
        if kind is FieldType.date:
            return kind, _clean_date(raw)
    except ValueError as exc:
        raise Invalid([FieldError(loc, f"{key}: {exc}")]) from exc
    return kind, raw


def _parse_bool(raw: str) -> bool:
    words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    if raw.strip().lower() not in words:
        raise ValueError("must be true or false")
    return words[raw.strip().lower()]


def missing_required(ctx: Ctx, entity: str, values: dict[str, Any]) -> list[str]:
    definitions = repo.list_definitions(ctx.session, entity, active_only=True)
    return [d.key for d in definitions if d.required and values.get(d.key) in (None, "", [])]


def _clean(definition: FieldDefinition, value: Any) -> Any:
    kind = FieldType(definition.type)
    if kind is FieldType.text:
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise ValueError(f"must be text of at most {MAX_TEXT} characters")
        return value
    if kind is FieldType.number:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a number")
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value
    if kind is FieldType.checkbox:
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if kind is FieldType.date:
        return _clean_date(value)
    if kind is FieldType.select:
        if value not in definition.options:
            raise ValueError(f"must be one of: {', '.join(definition.options)}")
        return value
    return _clean_multi(definition, value)


def _clean_date(value: Any) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except (TypeError, ValueError) as exc:
        raise ValueError("must be a date written YYYY-MM-DD") from exc


def _clean_multi(definition: FieldDefinition, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of options")
    unknown = [v for v in value if v not in definition.options]
    if unknown:
        raise ValueError(
            f"unknown option {', '.join(unknown)}; choose from {', '.join(definition.options)}"
        )
    return [o for o in definition.options if o in value]
