from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kefu.customers.identities import normalise_email, normalise_identity, normalise_phone
from kefu.customers.models import IdentityKind
from kefu.kit.validators import check_language, check_time_zone, normalise_tags


class IdentityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: IdentityKind
    value: str = Field(min_length=1, max_length=254)

    @model_validator(mode="after")
    def _normalise(self) -> IdentityIn:
        self.value = normalise_identity(self.kind, self.value)
        return self


class IdentityRead(BaseModel):
    id: int
    kind: str
    value: str


class CompanyRef(BaseModel):
    id: int
    name: str


class _CustomerFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company_id: int | None = None
    tier: str | None = Field(default=None, min_length=1, max_length=30)
    language: str | None = None
    time_zone: str | None = None
    notes: str | None = Field(default=None, max_length=10_000)
    tags: list[str] | None = None
    attributes: dict[str, Any] | None = None

    @field_validator("language")
    @classmethod
    def _lang(cls, v: str | None) -> str | None:
        return None if v is None else check_language(v)

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return None if v is None else check_time_zone(v)

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else normalise_tags(v)


class CustomerCreate(_CustomerFields):
    name: str = Field(default="", max_length=200)
    email: str | None = None
    phone: str | None = None
    identities: list[IdentityIn] = Field(default_factory=list)

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        return normalise_email(v) if v else None

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return normalise_phone(v) if v else None

    @model_validator(mode="after")
    def _collect(self) -> CustomerCreate:
        if self.email:
            self.identities.insert(0, IdentityIn(kind=IdentityKind.email, value=self.email))
        if self.phone:
            self.identities.append(IdentityIn(kind=IdentityKind.phone, value=self.phone))
        if not self.identities and not self.name:
            raise ValueError("give a name or at least one identity (email, phone, ...)")
        return self


class CustomerUpdate(_CustomerFields):
    name: str | None = Field(default=None, max_length=200)
    add_identities: list[IdentityIn] = Field(default_factory=list)
    remove_identity_ids: list[int] = Field(default_factory=list)


class CustomerRead(BaseModel):
    id: int
    name: str
    email: str | None
    phone: str | None
    identities: list[IdentityRead]
    company: CompanyRef | None
    tier: str
    language: str | None
    time_zone: str | None
    notes: str
    tags: list[str]
    attributes: dict[str, Any]
    merged_into_id: int | None
    first_seen_at: datetime
    last_contact_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CustomerPage(BaseModel):
    items: list[CustomerRead]
    next_cursor: str | None


class CustomerMerge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_id: int = Field(description="This customer is folded into the one in the path")


class CompanyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    domain: str | None = Field(default=None, max_length=200)
    tier: str = Field(default="standard", min_length=1, max_length=30)
    notes: str = Field(default="", max_length=10_000)
    attributes: dict[str, Any] = Field(default_factory=dict)


class CompanyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    domain: str | None = Field(default=None, max_length=200)
    tier: str | None = Field(default=None, min_length=1, max_length=30)
    notes: str | None = Field(default=None, max_length=10_000)
    attributes: dict[str, Any] | None = None


class CompanyRead(BaseModel):
    id: int
    name: str
    domain: str | None
    tier: str
    notes: str
    attributes: dict[str, Any]
    customer_count: int
    created_at: datetime
    updated_at: datetime


class CompanyPage(BaseModel):
    items: list[CompanyRead]
    next_cursor: str | None


class CustomerBrief(BaseModel):
    id: int
    name: str


class DuplicateSuggestion(BaseModel):
    """Two customers who are likely the same person; an agent confirms with
    ``POST /customers/{customer.id}/merge`` (``source_id``: the other)."""

    customer: CustomerBrief
    other: CustomerBrief
    score: float = Field(description="0..1: how sure kefu is that they are one person")
    reasons: list[str]
