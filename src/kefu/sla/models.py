"""SLA policies and each ticket's SLA clocks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db import Base, JSONType, UTCDateTime


class Metric(StrEnum):
    first_response = "first_response"
    next_response = "next_response"
    resolution = "resolution"


class ClockStatus(StrEnum):
    active = "active"
    paused = "paused"
    warning = "warning"
    met = "met"
    breached = "breached"
    cancelled = "cancelled"  # its policy no longer applies; kept out of views and reports


class SlaPolicy(Base):
    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # None: calendar time (every hour counts); else business hours of that calendar.
    calendar_id: Mapped[int | None] = mapped_column(
        ForeignKey("business_calendars.id", ondelete="RESTRICT")
    )
    # match, targets, pause_on, warning, on_warning, on_breach, description (teams by id)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SlaConfig(Base):
    """One row whose token changes with every policy or calendar change, so each process
    can tell with one primary-key read whether its compiled policies are current."""

    __tablename__ = "sla_config"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SlaClock(Base):
    """One target of one ticket: first response, one next response, or resolution.

    While running, ``running_since`` is set and ``due_at`` / ``warn_at`` are precomputed;
    ``elapsed_s`` holds the business seconds used before ``running_since`` (pauses
    excluded). ``next_check_at`` is the next instant the sweep must act on (the warning,
    then the breach), NULL once nothing is left to fire; the sweep reads a partial index
    on it, so its cost follows the clocks that are due, not the open tickets."""

    __tablename__ = "sla_clocks"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("sla_policies.id", ondelete="SET NULL")
    )
    metric: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10))
    target_s: Mapped[int] = mapped_column(Integer)
    elapsed_s: Mapped[float] = mapped_column(Float, default=0.0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    running_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_sla_clocks_ticket", "ticket_id", "metric", "id"),
        Index(
            "ix_sla_clocks_next_check",
            "next_check_at",
            sqlite_where=text("next_check_at IS NOT NULL"),
            postgresql_where=text("next_check_at IS NOT NULL"),
        ),
        Index("ix_sla_clocks_policy", "policy_id"),
        Index("ix_sla_clocks_started", "started_at"),
    )
