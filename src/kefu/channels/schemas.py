from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ChannelAccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(pattern=r"^[a-z][a-z0-9_]{1,19}$")
    name: str = Field(min_length=1, max_length=100)
    address: str = Field(default="", max_length=254)
    config: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(
        default_factory=dict, description="Write-only; stored encrypted"
    )
    team_id: int | None = None
    active: bool = True


class ChannelAccountUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    address: str | None = Field(default=None, max_length=254)
    config: dict[str, Any] | None = None
    secrets: dict[str, str] | None = Field(default=None, description="Keys given are replaced")
    team_id: int | None = None
    active: bool | None = None


class ChannelAccountRead(BaseModel):
    id: int
    kind: str
    name: str
    address: str
    config: dict[str, Any]
    secrets_set: list[str] = Field(description="Which secrets are stored (never their values)")
    team_id: int | None
    active: bool
    webhook_url: str
    created_at: datetime
    updated_at: datetime


class IngestResult(BaseModel):
    ticket_id: int
    message_id: int | None
    created_ticket: bool
    duplicate: bool = False
