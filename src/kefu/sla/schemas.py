"""SLA policies as people write them (API JSON and the YAML of ``kefu sla export``)::

    name: VIP urgent
    match: {priority: [urgent, high], tier: [vip], channel: [email], team: [Support]}
    calendar: Shanghai office        # omit for calendar time (every hour counts)
    targets: {first_response: 30m, next_response: 1h, resolution: 8h}
    pause_on: [pending, on_hold]
    warning: 15m                     # or "20%" of the target before it is due
    on_warning: {notify: [assignee]}
    on_breach: {notify: [assignee, supervisors], priority: raise, team: Escalations}

Policies are ordered; the first enabled one whose every condition holds applies.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from kefu.calendars.schemas import CalendarIn, clean_name
from kefu.kit.durations import format_duration, parse_duration
from kefu.sla.models import Metric
from kefu.tickets.models import Priority

MAX_TARGET_S = 366 * 86_400
Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    Field(ge=60, le=MAX_TARGET_S),
    PlainSerializer(format_duration, return_type=str),
]
_PERCENT = re.compile(r"^\s*(\d{1,2})\s*%\s*$")
Recipient = Literal["assignee", "supervisors", "team"]
PauseStatus = Literal["pending", "on_hold"]
PAUSE_STATUSES: tuple[PauseStatus, ...] = ("pending", "on_hold")
PriorityStep = Literal["raise", "low", "normal", "high", "urgent"]


class PolicyMatch(BaseModel):
    """Every condition given must hold; a condition lists the values it accepts."""

    model_config = ConfigDict(extra="forbid")

    priority: list[Priority] = Field(default_factory=list)
    tier: list[str] = Field(default_factory=list, max_length=50)
    channel: list[str] = Field(default_factory=list, max_length=50)
    team: list[str] = Field(default_factory=list, max_length=100, description="Team names")

    @field_validator("tier", "channel")
    @classmethod
    def _lower(cls, v: list[str]) -> list[str]:
        return sorted({x.strip().lower() for x in v if x.strip()})


class Targets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_response: Duration | None = None
    next_response: Duration | None = None
    resolution: Duration | None = None

    @model_validator(mode="after")
    def _some(self) -> Targets:
        if not self.seconds():
            raise ValueError("give at least one target: first_response, next_response, resolution")
        return self

    def seconds(self) -> dict[Metric, int]:
        return {m: v for m in Metric if (v := getattr(self, m.value)) is not None}


class Escalation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notify: list[Recipient] = Field(default_factory=list)
    priority: PriorityStep | None = Field(
        default=None, description="'raise' for one step up, or a priority to raise to"
    )
    team: str | None = Field(default=None, description="Move the ticket to this team")


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    enabled: bool = True
    match: PolicyMatch = Field(default_factory=PolicyMatch)
    calendar: str | None = Field(default=None, description="A calendar's name; none = 24/7")
    targets: Targets
    pause_on: list[PauseStatus] = Field(default_factory=lambda: list(PAUSE_STATUSES))
    warning: str | None = Field(
        default=None, description="How long before the due time to warn: '15m' or '20%'"
    )
    on_warning: Escalation = Field(default_factory=lambda: Escalation(notify=["assignee"]))
    on_breach: Escalation = Field(
        default_factory=lambda: Escalation(notify=["assignee", "supervisors"])
    )
    position: int | None = Field(default=None, ge=0, description="Order; default: last")

    _name = field_validator("name")(clean_name)

    @field_validator("warning")
    @classmethod
    def _warning(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        if _PERCENT.match(v):
            percent = int(_PERCENT.match(v).group(1))  # type: ignore[union-attr]
            if not 1 <= percent <= 99:
                raise ValueError("a percentage warning is between 1% and 99%")
            return f"{percent}%"
        return format_duration(parse_duration(v))

    @model_validator(mode="after")
    def _warning_fits(self) -> PolicyIn:
        before = warning_seconds(self.warning, None)
        shortest = min(self.targets.seconds().values())
        if before is not None and before >= shortest:
            raise ValueError(
                f"warning {self.warning} is not shorter than the shortest target "
                f"({format_duration(shortest)})"
            )
        return self


def warning_seconds(warning: str | None, target_s: int | None) -> int | None:
    """Seconds before the due time to warn; a percentage needs the target."""
    if warning is None:
        return None
    match = _PERCENT.match(warning)
    if match is None:
        return parse_duration(warning)
    return None if target_s is None else target_s * int(match.group(1)) // 100


class PolicyRead(PolicyIn):
    id: int
    position: int
    version: int
    created_at: datetime
    updated_at: datetime


class PolicyList(BaseModel):
    items: list[PolicyRead]


class PolicyOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[int] = Field(min_length=1, max_length=1000, description="Policy ids, first first")


class SlaDocument(BaseModel):
    """What ``kefu sla export`` writes and ``kefu sla import`` reads."""

    model_config = ConfigDict(extra="forbid")

    calendars: list[CalendarIn] = Field(default_factory=list)
    sla_policies: list[PolicyIn] = Field(default_factory=list)


class ImportResult(BaseModel):
    calendars_created: list[str] = Field(default_factory=list)
    calendars_updated: list[str] = Field(default_factory=list)
    policies_created: list[str] = Field(default_factory=list)
    policies_updated: list[str] = Field(default_factory=list)
    policies_deleted: list[str] = Field(default_factory=list)


# -- a ticket's clocks (the contract of GET /api/v1/tickets/{id}) ---------------------------
ClockStatusOut = Literal["active", "paused", "warning", "met", "breached"]


class SlaClockRead(BaseModel):
    metric: Metric
    target_s: int
    due_at: datetime | None = Field(description="None while paused")
    status: ClockStatusOut
    policy: str | None = None
    started_at: datetime
    warn_at: datetime | None = None
    met_at: datetime | None = None
    breached_at: datetime | None = None
    business: bool = Field(default=False, description="Counted in business hours")
    remaining_s: float | None = Field(
        default=None,
        description="Target time left in the policy's time while paused or once stopped "
        "(negative when it ended late); None while running",
    )


class SlaBadge(BaseModel):
    """The clock to watch on a ticket in a list: the running one due first, else the
    latest breach."""

    metric: Metric
    due_at: datetime | None
    status: ClockStatusOut
    warn_at: datetime | None = None
    remaining_s: float | None = None


class MetricAttainment(BaseModel):
    metric: Metric
    met: int
    breached: int
    running: int = Field(description="Neither met nor breached yet")
    attainment: float | None = Field(description="met / (met + breached)")


class Attainment(BaseModel):
    start: datetime
    end: datetime
    policy_id: int | None
    metrics: list[MetricAttainment]
