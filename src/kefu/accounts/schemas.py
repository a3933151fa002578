from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kefu.accounts.models import Role
from kefu.customers.identities import normalise_email
from kefu.kit.time import as_utc
from kefu.kit.validators import check_language, check_time_zone


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=254)
    name: str = Field(min_length=1, max_length=200)
    role: Role = Role.agent
    password: str | None = Field(default=None, min_length=10, max_length=200)
    language: str = "en"
    time_zone: str = "UTC"
    team_ids: list[int] = Field(default_factory=list)

    _email = field_validator("email")(normalise_email)

    _lang = field_validator("language")(check_language)
    _tz = field_validator("time_zone")(check_time_zone)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    password: str | None = Field(default=None, min_length=10, max_length=200)
    language: str | None = None
    time_zone: str | None = None
    is_active: bool | None = None
    team_ids: list[int] | None = None

    @field_validator("language")
    @classmethod
    def _lang(cls, v: str | None) -> str | None:
        return None if v is None else check_language(v)

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return None if v is None else check_time_zone(v)


class UserRead(BaseModel):
    id: int
    email: str
    name: str
    role: Role
    language: str
    time_zone: str
    is_active: bool
    team_ids: list[int]
    created_at: datetime
    last_login_at: datetime | None


class TeamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    private: bool = False
    member_ids: list[int] = Field(default_factory=list)


class TeamUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    private: bool | None = None
    member_ids: list[int] | None = None


class TeamRead(BaseModel):
    id: int
    name: str
    description: str
    private: bool
    member_ids: list[int]
    created_at: datetime


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="API token", min_length=1, max_length=100)
    scopes: list[str] = Field(default_factory=list)
    expires_at: datetime | None = Field(default=None, description="UTC unless it says a zone")

    @field_validator("expires_at")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        return None if v is None else as_utc(v)


class TokenRead(BaseModel):
    id: int
    user_id: int
    name: str
    prefix: str
    scopes: list[str]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class TokenCreated(TokenRead):
    token: str = Field(description="Shown once; only its digest is stored")


class LoginRequest(BaseModel):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=200)


class LoginResult(BaseModel):
    user: UserRead
    csrf_token: str
