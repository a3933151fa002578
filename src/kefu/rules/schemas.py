"""Rules and macros as people write them (API JSON, the YAML of ``kefu rules export``)::

    name: Refunds to billing
    enabled: true
    trigger: [ticket.created]            # event names, or [time] for a time automation
    conditions:
      all:
        - {field: ticket.text, op: contains, value: [refund, 退款]}
        - any:
            - {field: customer.tier, op: is, value: vip}
            - {field: ticket.priority, op: gte, value: high}
    actions:
      - {type: assign, team: Billing}
      - {type: add_tags, tags: [refund]}
      - {type: reply, body: "Hello {{ requester.first_name }}, we are on it (#{{ ticket.id }})."}

The shape is checked here; what the fields, operators and actions mean (and the names
they refer to) is checked by ``compiler.py``, which reports every fault with its path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kefu.calendars.schemas import clean_name

CONDITIONS_DOC = (
    "A group {all: [...]} or {any: [...]} of conditions {field, op, value[, unit, calendar]} "
    "and nested groups; see docs/rules.md and GET /api/v1/rules/catalogue"
)


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    enabled: bool = True
    trigger: list[str] = Field(min_length=1, max_length=10, description="Event names, or [time]")
    conditions: dict[str, Any] = Field(
        default_factory=lambda: {"all": []}, description=CONDITIONS_DOC
    )
    actions: list[dict[str, Any]] = Field(min_length=1, max_length=30)
    position: int | None = Field(default=None, ge=0, description="Order; default: last")

    _name = field_validator("name")(clean_name)


class Person(BaseModel):
    id: int
    name: str


class RuleRead(RuleIn):
    id: int
    position: int
    version: int
    updated_by: Person | None
    created_at: datetime
    updated_at: datetime


class RuleList(BaseModel):
    items: list[RuleRead]


class RuleOrder(BaseModel):
    ids: list[int] = Field(min_length=1, description="Every rule id, in the new order")


class RuleVersionRead(BaseModel):
    version: int
    definition: dict[str, Any]
    changed: list[str]
    changed_by: Person | None
    changed_at: datetime


class ActionResult(BaseModel):
    """What one action did (or would do, in a dry run or a macro preview)."""

    action: str
    ok: bool = True
    field: str | None = None
    old: Any = None
    new: Any = None
    detail: str | None = None


class FiringRead(BaseModel):
    id: int
    rule_id: int
    rule_version: int
    ticket_id: int | None
    user_id: int | None
    event: str
    status: str
    results: list[ActionResult]
    fired_at: datetime


class FiringPage(BaseModel):
    items: list[FiringRead]
    next_cursor: str | None


class DryRunItem(BaseModel):
    ticket_id: int
    subject: str
    changes: list[ActionResult]


class DryRunResult(BaseModel):
    rule: str
    days: int
    scanned: int
    matched: int
    truncated: bool
    items: list[DryRunItem]


class MacroIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    active: bool = True
    actions: list[dict[str, Any]] = Field(min_length=1, max_length=20)
    position: int | None = Field(default=None, ge=0)

    _name = field_validator("name")(clean_name)


class MacroRead(MacroIn):
    id: int
    position: int
    version: int
    created_at: datetime
    updated_at: datetime


class MacroList(BaseModel):
    items: list[MacroRead]


class MacroPreview(BaseModel):
    macro_id: int
    name: str
    ticket_id: int
    changes: list[ActionResult]


class RuleEntry(RuleIn):
    """A rule in a document: its place in the list is its order."""

    position: int | None = Field(default=None, exclude=True)


class MacroEntry(MacroIn):
    position: int | None = Field(default=None, exclude=True)


class RulesDocument(BaseModel):
    """What ``kefu rules export`` writes and ``kefu rules import`` reads, in order."""

    model_config = ConfigDict(extra="forbid")

    rules: list[RuleEntry] = Field(default_factory=list)
    macros: list[MacroEntry] = Field(default_factory=list)


class ImportResult(BaseModel):
    rules_created: list[str] = Field(default_factory=list)
    rules_updated: list[str] = Field(default_factory=list)
    rules_deleted: list[str] = Field(default_factory=list)
    macros_created: list[str] = Field(default_factory=list)
    macros_updated: list[str] = Field(default_factory=list)
