from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kefu.kit.validators import normalise_tag
from kefu.tickets.models import Priority, Status
from kefu.tickets.schemas import CHANNEL_PATTERN

SORTS = ("updated_at", "created_at", "priority", "id")


class ViewFilters(BaseModel):
    """What a view shows; every condition given must hold."""

    model_config = ConfigDict(extra="forbid")

    status: list[Status] = Field(default_factory=list)
    priority: list[Priority] = Field(default_factory=list)
    assignee: str | None = Field(
        default=None, pattern=r"^(me|none|\d+)$", description="A user id, 'me' or 'none'"
    )
    team_id: int | None = None
    tag: str | None = None
    channel: str | None = Field(default=None, pattern=CHANNEL_PATTERN)
    q: str | None = Field(default=None, max_length=200)

    @field_validator("tag")
    @classmethod
    def _tag(cls, v: str | None) -> str | None:
        return normalise_tag(v) if v else None

    @field_validator("q")
    @classmethod
    def _q(cls, v: str | None) -> str | None:
        return v.strip() or None if v else None


def check_sort(value: str) -> str:
    if value.lstrip("-") not in SORTS:
        raise ValueError(f"sort by one of {', '.join(SORTS)} (prefix - for descending)")
    return value


class SavedViewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    shared: bool = False
    filters: ViewFilters = Field(default_factory=ViewFilters)
    sort: str = "-updated_at"
    position: int = 0

    _sort = field_validator("sort")(check_sort)


class SavedViewUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    shared: bool | None = None
    filters: ViewFilters | None = None
    sort: str | None = None
    position: int | None = None

    @field_validator("sort")
    @classmethod
    def _sort(cls, v: str | None) -> str | None:
        return None if v is None else check_sort(v)


class SavedViewRead(BaseModel):
    id: int
    name: str
    owner_id: int
    shared: bool
    filters: ViewFilters
    sort: str
    position: int
    created_at: datetime
    updated_at: datetime
