"""Routing in and out: agent state and seat, break reasons, queues, work items, offers."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kefu.kit.validators import check_language
from kefu.routing.core import MEDIA, AgentState, Strategy
from kefu.tickets.models import Priority

Media = Literal["voice", "chat", "email"]
Kind = Literal["ticket", "chat", "call", "task"]
_NAME = re.compile(r"^[a-z][a-z0-9_\-.]{0,39}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2}|_[A-Z][a-z]{3})?$")


def routing_language(value: str) -> str:
    """kefu's UI languages by their alias (zh -> zh_CN); any other plain code as given."""
    try:
        return check_language(value)
    except ValueError:
        if not _LANGUAGE.match(value):
            raise ValueError(f"'{value}' is not a language code such as en, zh_CN, ja") from None
        return value


def check_skills(skills: dict[str, int]) -> dict[str, int]:
    clean: dict[str, int] = {}
    for name, level in skills.items():
        key = name.strip().lower()
        if not _NAME.match(key):
            raise ValueError(f"'{name}' is not a skill name (a-z, 0-9, _ - .; at most 40)")
        if not 1 <= level <= 10:
            raise ValueError(f"the level of {key} must be between 1 and 10")
        clean[key] = level
    return clean


# -- agents ---------------------------------------------------------------------------------
class StateChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: AgentState
    reason: str | None = Field(default=None, max_length=40)


class SeatUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    capacity: dict[Media, int] | None = None
    blocks: dict[Media, list[Media]] | None = None
    skills: dict[str, int] | None = Field(default=None, max_length=100)
    languages: list[str] | None = Field(default=None, max_length=20)
    max_no_answer: int | None = Field(default=None, ge=0, le=100)
    cooldown_s: int | None = Field(default=None, ge=0, le=3600)

    @field_validator("capacity")
    @classmethod
    def _capacity(cls, v: dict[str, int] | None) -> dict[str, int] | None:
        if v is not None and any(not 0 <= n <= 100 for n in v.values()):
            raise ValueError("a capacity is between 0 and 100")
        return v

    @field_validator("skills")
    @classmethod
    def _skills(cls, v: dict[str, int] | None) -> dict[str, int] | None:
        return None if v is None else check_skills(v)

    @field_validator("languages")
    @classmethod
    def _languages(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else sorted({routing_language(x) for x in v})


class SeatRead(BaseModel):
    user_id: int
    name: str
    state: str
    reason: str | None
    state_since: datetime
    state_until: datetime | None
    capacity: dict[str, int]
    blocks: dict[str, list[str]]
    skills: dict[str, int]
    languages: list[str]
    team_ids: list[int]
    max_no_answer: int
    missed_in_row: int
    cooldown_s: int
    cooldown_until: datetime | None
    load: dict[str, int]
    heartbeat_at: datetime | None


class StateSpan(BaseModel):
    state: str
    reason: str | None
    source: str
    actor_id: int | None
    started_at: datetime
    ended_at: datetime | None


class BreakReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")
    label: str = Field(min_length=1, max_length=100)


class BreakReasonUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(default=None, min_length=1, max_length=100)
    active: bool | None = None


class BreakReasonRead(BaseModel):
    code: str
    label: str
    active: bool
    system: bool = False


# -- queues ---------------------------------------------------------------------------------
class WeightsIn(BaseModel):
    """Priority score = wait * seconds waited + tier bonus + priority bonus + SLA step."""

    model_config = ConfigDict(extra="forbid")

    wait: float = Field(default=1.0, ge=0, le=1000)
    tiers: dict[str, float] = Field(default_factory=lambda: {"vip": 120.0})
    priorities: dict[str, float] = Field(
        default_factory=lambda: {"low": -30.0, "normal": 0.0, "high": 60.0, "urgent": 180.0}
    )
    sla_at_risk: float = Field(default=120.0, ge=-1e6, le=1e6)
    sla_breached: float = Field(default=300.0, ge=-1e6, le=1e6)
    sla_risk_s: float = Field(default=300.0, ge=0, le=7 * 86400)

    @field_validator("priorities")
    @classmethod
    def _priorities(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = set(v) - set(Priority.__members__)
        if unknown:
            raise ValueError(f"unknown priorities {', '.join(sorted(unknown))}")
        return v


class OverflowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after_s: float = Field(ge=0, le=7 * 86400)
    action: Literal["widen", "move"]
    level_delta: int = Field(default=1, ge=0, le=10)
    drop_language: bool = False
    queue_id: int | None = None

    @model_validator(mode="after")
    def _target(self) -> OverflowIn:
        if self.action == "move" and self.queue_id is None:
            raise ValueError("a move needs the queue_id to move to")
        return self


class _QueueFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=2000)
    strategy: Strategy | None = None
    team_id: int | None = None
    channels: list[str] | None = Field(default=None, max_length=30)
    skills: dict[str, int] | None = Field(default=None, max_length=30)
    match_language: bool | None = None
    offer_timeout_s: int | None = Field(default=None, ge=5, le=3600)
    wrap_up_s: int | None = Field(default=None, ge=0, le=3600)
    auto_accept: bool | None = None
    sl_threshold_s: int | None = Field(default=None, ge=1, le=86400)
    sl_target: float | None = Field(default=None, ge=0, le=1)
    weights: WeightsIn | None = None
    overflow: list[OverflowIn] | None = Field(default=None, max_length=10)
    sticky_window_s: int | None = Field(default=None, ge=0, le=90 * 86400)
    sticky_wait_s: int | None = Field(default=None, ge=0, le=3600)
    position: int | None = Field(default=None, ge=0, le=10000)

    @field_validator("skills")
    @classmethod
    def _skills(cls, v: dict[str, int] | None) -> dict[str, int] | None:
        return None if v is None else check_skills(v)

    @field_validator("channels")
    @classmethod
    def _channels(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return None
        for channel in v:
            if not re.match(r"^[a-z][a-z0-9_]{1,19}$", channel):
                raise ValueError(f"'{channel}' is not a channel name")
        return sorted(set(v))


class QueueCreate(_QueueFields):
    name: str = Field(min_length=1, max_length=100)


class QueueUpdate(_QueueFields):
    name: str | None = Field(default=None, min_length=1, max_length=100)


class QueueRead(BaseModel):
    id: int
    name: str
    description: str
    strategy: Strategy
    team_id: int | None
    channels: list[str]
    skills: dict[str, int]
    match_language: bool
    offer_timeout_s: int
    wrap_up_s: int
    auto_accept: bool
    sl_threshold_s: int
    sl_target: float
    weights: WeightsIn
    overflow: list[OverflowIn]
    sticky_window_s: int
    sticky_wait_s: int
    position: int
    version: int
    servable: bool
    warnings: list[str]
    created_at: datetime
    updated_at: datetime


class QueueStats(BaseModel):
    queue_id: int
    name: str
    waiting: int
    offered: int
    longest_wait_s: float
    oldest_enqueued_at: datetime | None
    answered: int
    abandoned: int
    service_level: float | None
    sl_target: float
    sl_threshold_s: int
    abandon_rate: float | None
    asa_s: float | None
    window_s: int
    agents: dict[str, int]
    servable: bool
    warnings: list[str]


# -- work items and offers ------------------------------------------------------------------
class WorkIn(BaseModel):
    """Work for the router: from a channel, a rule, the CTI (a call) or an integration."""

    model_config = ConfigDict(extra="forbid")

    queue_id: int | None = None
    kind: Kind = "ticket"
    ticket_id: int | None = None
    external_ref: str | None = Field(default=None, max_length=200)
    customer_id: int | None = None
    media: Media | None = None
    skills: dict[str, int] = Field(default_factory=dict, max_length=30)
    language: str | None = None
    team_id: int | None = None
    priority: Priority = Priority.normal
    tier: str | None = Field(default=None, max_length=30)
    sla_due_at: datetime | None = None

    _skills = field_validator("skills")(check_skills)

    @field_validator("language")
    @classmethod
    def _language(cls, v: str | None) -> str | None:
        return None if v is None else routing_language(v)

    @model_validator(mode="after")
    def _what(self) -> WorkIn:
        if self.kind == "ticket" and self.ticket_id is None:
            raise ValueError("work of kind ticket needs its ticket_id")
        if self.kind != "ticket" and self.ticket_id is None and not self.external_ref:
            raise ValueError("give a ticket_id or an external_ref (the chat or call id)")
        return self


class OfferRead(BaseModel):
    id: int
    item_id: int
    agent_id: int
    status: str
    ring: bool
    reason: str | None
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    seconds_left: float
    kind: str
    media: str
    queue_id: int
    queue_name: str
    ticket_id: int | None
    external_ref: str | None
    title: str
    customer_name: str | None
    priority: str
    tier: str
    waited_s: float


class WorkRead(BaseModel):
    id: int
    queue_id: int
    kind: str
    ticket_id: int | None
    external_ref: str | None
    customer_id: int | None
    media: str
    skills: dict[str, int]
    language: str | None
    team_id: int | None
    priority: str
    tier: str
    sla_due_at: datetime | None
    status: str
    front: bool
    agent_id: int | None
    enqueued_at: datetime
    assigned_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    wait_s: float | None
    offers: list[OfferRead] = Field(default_factory=list)
    ring: list[int] = Field(default_factory=list, description="Agents to ring now (pending)")


class Reassign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: int | None = Field(default=None, description="None puts it back in its queue")


class Answered(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: int


class AgentTile(BaseModel):
    user_id: int
    name: str
    state: str
    reason: str | None
    state_since: datetime
    load: dict[str, int]
    capacity: dict[str, int]


class Wallboard(BaseModel):
    at: datetime
    queues: list[QueueStats]
    agents: list[AgentTile]


def media_of(channel: str | None) -> str:
    """Which capacity a ticket of this channel uses."""
    if channel in ("voice", "phone", "call"):
        return "voice"
    if channel in ("chat", "webchat", "whatsapp", "telegram", "wechat", "sms", "messenger"):
        return "chat"
    return "email"


def json_weights(value: dict[str, Any] | None) -> WeightsIn:
    return WeightsIn.model_validate(value or {})


__all__ = ["MEDIA"]
