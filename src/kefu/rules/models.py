"""Rules (event triggers and time automations), their versions, the durable queue of events
they run on, the log of their firings, and agents' macros."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db import Base, JSONType, UTCDateTime

BIGID = BigInteger().with_variant(Integer, "sqlite")


class Rule(Base):
    __tablename__ = "rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The rule as people write it (schemas.RuleIn, JSON): trigger, conditions, actions.
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RuleVersion(Base):
    """Every saved state of a rule: who changed it, when, and what it was."""

    __tablename__ = "rule_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("rules.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    changed: Mapped[list[str]] = mapped_column(JSONType, default=list)  # top-level keys
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_rule_versions_rule", "rule_id", "version", unique=True),)


class RulesConfig(Base):
    """One row whose token changes with every rule change, so each unit of work can tell
    with one primary-key read whether its compiled rules are current."""

    __tablename__ = "rules_config"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RuleEvent(Base):
    """An event some enabled rule listens to, written in the transaction that caused it and
    deleted in the transaction that ran the rules on it: a crash between loses nothing."""

    __tablename__ = "rule_events"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    depth: Mapped[int] = mapped_column(Integer, default=0)  # 0: caused by a person or channel
    chain: Mapped[list[int]] = mapped_column(JSONType, default=list)  # rules that led here
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dead: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_rule_events_due", "dead", "next_attempt_at", "id"),)


class RuleFiring(Base):
    """One time a rule's conditions held and its actions ran (or failed)."""

    __tablename__ = "rule_firings"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("rules.id", ondelete="CASCADE"))
    rule_version: Mapped[int] = mapped_column(Integer)
    ticket_id: Mapped[int | None] = mapped_column(BIGID)
    user_id: Mapped[int | None] = mapped_column(Integer)  # an agent-state rule's agent
    event: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(10))  # applied, partial, failed
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_rule_firings_rule", "rule_id", "id"),
        Index("ix_rule_firings_ticket", "rule_id", "ticket_id", "fired_at"),
    )


class Macro(Base):
    """A named set of actions an agent applies to a ticket in one click."""

    __tablename__ = "macros"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
