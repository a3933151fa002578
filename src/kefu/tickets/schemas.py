from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kefu.customers.identities import normalise_email, normalise_phone
from kefu.kit.validators import check_language, normalise_tags
from kefu.sla.schemas import SlaClockRead
from kefu.tickets.models import LinkKind, Priority, Status, TicketType, Visibility

CHANNEL_PATTERN = r"^[a-z][a-z0-9_]{1,19}$"
MAX_BODY = 200_000


class RequesterIn(BaseModel):
    """Who asked: an existing customer by id, or found (or created) by email or phone."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    email: str | None = None
    phone: str | None = None
    name: str = Field(default="", max_length=200)

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        return None if v is None else normalise_email(v)

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return None if v is None else normalise_phone(v)

    @model_validator(mode="after")
    def _some_key(self) -> RequesterIn:
        if self.id is None and self.email is None and self.phone is None:
            raise ValueError("give the requester's id, email or phone")
        return self


class _TicketFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: TicketType | None = None
    category: str | None = Field(default=None, max_length=100)
    language: str | None = None
    assignee_id: int | None = None
    team_id: int | None = None

    @field_validator("language")
    @classmethod
    def _lang(cls, v: str | None) -> str | None:
        return None if v is None else check_language(v)


class TicketCreate(_TicketFields):
    subject: str = Field(min_length=1, max_length=300)
    body: str = Field(default="", max_length=MAX_BODY)
    body_html: str | None = Field(default=None, max_length=MAX_BODY)
    requester: RequesterIn
    priority: Priority = Priority.normal
    status: Status = Status.new
    channel: str = Field(default="api", pattern=CHANNEL_PATTERN)
    tags: list[str] = Field(default_factory=list, max_length=50)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    follower_ids: list[int] = Field(default_factory=list, max_length=100)
    attachment_ids: list[int] = Field(default_factory=list, max_length=20)

    _tags = field_validator("tags")(normalise_tags)

    @field_validator("status")
    @classmethod
    def _not_closed(cls, v: Status) -> Status:
        if v is Status.closed:
            raise ValueError("a ticket cannot be created closed")
        return v


class TicketUpdate(_TicketFields):
    subject: str | None = Field(default=None, min_length=1, max_length=300)
    status: Status | None = None
    priority: Priority | None = None
    requester_id: int | None = None
    tags: list[str] | None = Field(default=None, max_length=50)
    add_tags: list[str] = Field(default_factory=list, max_length=50)
    remove_tags: list[str] = Field(default_factory=list, max_length=50)
    custom_fields: dict[str, Any] | None = None
    follower_ids: list[int] | None = Field(default=None, max_length=100)

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else normalise_tags(v)

    _add = field_validator("add_tags", "remove_tags")(normalise_tags)


class PersonRef(BaseModel):
    id: int
    name: str
    email: str | None = None


class TeamRef(BaseModel):
    id: int
    name: str


class LinkRead(BaseModel):
    id: int
    other_id: int
    kind: LinkKind
    direction: Literal["outgoing", "incoming"]
    created_at: datetime


class TicketSummary(BaseModel):
    id: int
    subject: str
    status: Status
    priority: Priority
    type: TicketType | None
    category: str | None
    channel: str
    language: str | None
    requester: PersonRef
    assignee: PersonRef | None
    team: TeamRef | None
    tags: list[str]
    custom_fields: dict[str, Any]
    version: int
    merged_into_id: int | None
    created_at: datetime
    updated_at: datetime
    first_responded_at: datetime | None
    solved_at: datetime | None
    closed_at: datetime | None


class TicketRead(TicketSummary):
    follower_ids: list[int] = Field(default_factory=list)
    links: list[LinkRead] = Field(default_factory=list)
    message_count: int = 0
    sla: list[SlaClockRead] = Field(default_factory=list, description="SLA clocks, by metric")


class TicketQuery(BaseModel):
    """The filters of ``GET /tickets`` and ``GET /tickets/count``, as query parameters."""

    status: list[str] | None = Field(None, description="Comma-separated or repeated")
    priority: list[str] | None = Field(None, description="Comma-separated or repeated")
    assignee_id: str | None = Field(None, description="A user id, 'me' or 'none'")
    team_id: int | None = None
    tag: str | None = None
    channel: str | None = None
    requester_id: int | None = None
    custom_field: list[str] | None = Field(None, description="key:value, repeatable")
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    q: str | None = Field(None, max_length=200, description="Words of the subject or messages")


class TicketListQuery(TicketQuery):
    sort: str = Field(
        "-created_at", description="created_at, updated_at, priority or id; - for descending"
    )
    cursor: str | None = Field(None, description="next_cursor of the page before")
    limit: int = Field(50, ge=1, le=200)


class TicketPage(BaseModel):
    items: list[TicketSummary]
    next_cursor: str | None


class AttachmentRead(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    ticket_id: int | None
    message_id: int | None
    created_at: datetime
    url: str


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(default="", max_length=MAX_BODY)
    body_html: str | None = Field(default=None, max_length=MAX_BODY)
    visibility: Visibility = Visibility.public
    author_type: Literal["agent", "customer"] = "agent"
    channel: str | None = Field(default=None, pattern=CHANNEL_PATTERN)
    attachment_ids: list[int] = Field(default_factory=list, max_length=20)
    status: Status | None = Field(default=None, description="Set the ticket's status with it")

    @model_validator(mode="after")
    def _has_content(self) -> MessageCreate:
        if not self.body.strip() and not (self.body_html or "").strip() and not self.attachment_ids:
            raise ValueError("a message needs a body or an attachment")
        if self.author_type == "customer" and self.visibility is Visibility.note:
            raise ValueError("customers cannot write internal notes")
        return self


class MessageRead(BaseModel):
    id: int
    ticket_id: int
    visibility: Visibility
    author_type: str
    author: PersonRef | None
    channel: str
    body_text: str
    body_html: str
    delivery_status: str | None
    delivery_error: str | None = None
    external_id: str | None
    attachments: list[AttachmentRead]
    created_at: datetime


class MessagePage(BaseModel):
    items: list[MessageRead]
    next_cursor: str | None


class TicketEventRead(BaseModel):
    id: int
    actor_type: str
    actor_id: int | None
    actor_name: str | None
    kind: str
    field: str | None
    old_value: str | None
    new_value: str | None
    created_at: datetime


class HistoryPage(BaseModel):
    items: list[TicketEventRead]
    next_cursor: str | None


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_ids: list[int] = Field(
        min_length=1, max_length=50, description="Folded into this ticket"
    )


class SplitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_id: int
    subject: str | None = Field(default=None, min_length=1, max_length=300)


class LinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    other_id: int
    kind: LinkKind = LinkKind.related


class BulkUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[int] = Field(min_length=1, max_length=1000)
    changes: TicketUpdate


class BulkError(BaseModel):
    id: int
    status: int
    detail: str


class BulkResult(BaseModel):
    updated: list[int]
    errors: list[BulkError]


class OutboundView(BaseModel):
    """An agent's reply as a channel needs it to send it."""

    ticket_id: int
    message_id: int
    channel: str
    requester_id: int
    subject: str
    text: str
    html: str
    attachments: list[tuple[str, str, str]]  # (filename, content type, sha256)
