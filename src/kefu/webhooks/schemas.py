"""Webhook endpoints as admins write them, and the delivery log as the console shows it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kefu.calendars.schemas import clean_name


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=8, max_length=2000, description="https://... (or http://)")
    description: str = Field(default="", max_length=2000)
    event_types: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Event names or patterns (ticket.*); empty: only rules call it",
    )
    active: bool = True
    allow_private: bool = Field(
        default=False,
        description="Deliver even to loopback, private or link-local addresses (admins only)",
    )
    max_attempts: int = Field(default=10, ge=1, le=20)
    secret: str | None = Field(
        default=None, description="whsec_... to set one; omitted: generated (kept on update)"
    )

    _name = field_validator("name")(clean_name)

    @field_validator("event_types")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(x.strip() for x in v if x.strip()))


class EndpointRead(BaseModel):
    id: int
    name: str
    url: str
    description: str
    event_types: list[str]
    active: bool
    allow_private: bool
    max_attempts: int
    secret: str
    version: int
    created_at: datetime
    updated_at: datetime


class EndpointList(BaseModel):
    items: list[EndpointRead]


class DeliveryRead(BaseModel):
    id: int
    endpoint_id: int
    endpoint: str
    message_id: str
    event_type: str
    ticket_id: int | None
    status: str  # queued, retrying, delivered, dead
    attempts: int
    response_status: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None


class DeliveryDetail(DeliveryRead):
    body: str


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None
