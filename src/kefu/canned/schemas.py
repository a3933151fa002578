from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kefu.kit.validators import check_language

MAX_BODY = 20_000


class CannedReplyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=100)
    body: str = Field(min_length=1, max_length=MAX_BODY)
    language: str | None = None

    @field_validator("language")
    @classmethod
    def _lang(cls, v: str | None) -> str | None:
        return check_language(v) if v else None


class CannedReplyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=100)
    body: str | None = Field(default=None, min_length=1, max_length=MAX_BODY)
    language: str | None = None

    @field_validator("language")
    @classmethod
    def _lang(cls, v: str | None) -> str | None:
        return check_language(v) if v else None


class CannedReplyRead(BaseModel):
    id: int
    title: str
    body: str
    language: str | None
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime


class CannedReplyFilled(BaseModel):
    id: int
    title: str
    text: str = Field(description="The body with its placeholders filled for one ticket")
