from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kefu.fields.models import FieldEntity, FieldType

_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,49}$"


def _clean_options(v: list[str] | None) -> list[str] | None:
    if v is None:
        return None
    cleaned = [o.strip() for o in v]
    if any(not o or len(o) > 100 for o in cleaned):
        raise ValueError("each option must be 1 to 100 characters")
    if len(set(cleaned)) != len(cleaned):
        raise ValueError("options must be unique")
    return cleaned


class FieldDefinitionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entity: FieldEntity = FieldEntity.ticket
    key: str = Field(pattern=_KEY_PATTERN, description="snake_case, stable; used in the API")
    label: str = Field(min_length=1, max_length=100)
    translations: dict[str, Any] = Field(default_factory=dict)
    type: FieldType
    options: list[str] = Field(default_factory=list)
    required: bool = Field(default=False, description="Must be filled before a ticket is solved")
    active: bool = True
    position: int = 0
    description: str = Field(default="", max_length=1000)

    _options = field_validator("options")(_clean_options)

    @model_validator(mode="after")
    def _options_fit_type(self) -> FieldDefinitionCreate:
        needs = self.type in (FieldType.select, FieldType.multi_select)
        if needs and not self.options:
            raise ValueError(f"a {self.type} field needs options")
        if not needs and self.options:
            raise ValueError(f"a {self.type} field takes no options")
        return self


class FieldDefinitionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(default=None, min_length=1, max_length=100)
    translations: dict[str, Any] | None = None
    options: list[str] | None = None
    required: bool | None = None
    active: bool | None = None
    position: int | None = None
    description: str | None = Field(default=None, max_length=1000)

    _options = field_validator("options")(_clean_options)


class FieldDefinitionRead(BaseModel):
    id: int
    entity: FieldEntity
    key: str
    label: str
    translations: dict[str, Any]
    type: FieldType
    options: list[str]
    required: bool
    active: bool
    position: int
    description: str
    created_at: datetime
    updated_at: datetime
