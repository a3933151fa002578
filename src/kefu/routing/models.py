"""Routing tables: agent seats and their state history, break reasons, queues, work items
and offers. The database is the router's source of truth (see docs/routing.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db import Base, JSONType, UTCDateTime

BIGID = BigInteger().with_variant(Integer, "sqlite")
ACTIVE_ITEM = "status IN ('waiting', 'offered', 'assigned')"
PENDING_SOLO_OFFER = "status = 'pending' AND ring = false"


class AgentSeat(Base):
    """An agent's seat: state, capacity per media, skills and languages."""

    __tablename__ = "agent_seats"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(20), default="offline")
    reason: Mapped[str | None] = mapped_column(String(40))
    state_since: Mapped[datetime] = mapped_column(UTCDateTime)
    state_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    capacity: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    blocks: Mapped[dict[str, list[str]]] = mapped_column(JSONType, default=dict)
    skills: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    max_no_answer: Mapped[int] = mapped_column(SmallInteger, default=3)
    missed_in_row: Mapped[int] = mapped_column(SmallInteger, default=0)
    cooldown_s: Mapped[int] = mapped_column(Integer, default=10)
    cooldown_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    idle_since: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_agent_seats_state", "state"),
        Index("ix_agent_seats_heartbeat", "heartbeat_at"),
    )


class AgentStateChange(Base):
    """One stretch of time an agent spent in one state (occupancy, utilisation)."""

    __tablename__ = "agent_state_history"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(12))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_agent_state_history_user", "user_id", "started_at"),
        Index("ix_agent_state_history_started", "started_at"),
    )


class BreakReason(Base):
    __tablename__ = "break_reasons"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RoutingQueue(Base):
    __tablename__ = "routing_queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    strategy: Mapped[str] = mapped_column(String(20))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    channels: Mapped[list[str]] = mapped_column(JSONType, default=list)
    skills: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    match_language: Mapped[bool] = mapped_column(Boolean, default=True)
    offer_timeout_s: Mapped[int] = mapped_column(Integer, default=30)
    wrap_up_s: Mapped[int] = mapped_column(Integer, default=0)
    auto_accept: Mapped[bool] = mapped_column(Boolean, default=False)
    sl_threshold_s: Mapped[int] = mapped_column(Integer, default=20)
    sl_target: Mapped[float] = mapped_column(Float, default=0.8)
    weights: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    overflow: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    sticky_window_s: Mapped[int] = mapped_column(Integer, default=0)
    sticky_wait_s: Mapped[int] = mapped_column(Integer, default=0)
    position: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_routing_queues_team", "team_id", "position"),)


class WorkItem(Base):
    """A ticket, chat or call waiting for, offered to, or held by an agent."""

    __tablename__ = "routing_items"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("routing_queues.id"))
    kind: Mapped[str] = mapped_column(String(10))
    # No foreign key: a deleted ticket's item must still be found (and cancelled) by it.
    ticket_id: Mapped[int | None] = mapped_column(BIGID)
    external_ref: Mapped[str | None] = mapped_column(String(200))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    media: Mapped[str] = mapped_column(String(10))
    skills: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    language: Mapped[str | None] = mapped_column(String(10))
    team_id: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    tier: Mapped[str] = mapped_column(String(30), default="standard")
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sticky_agent_id: Mapped[int | None] = mapped_column(Integer)
    sticky_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="waiting")
    front: Mapped[bool] = mapped_column(Boolean, default=False)
    overflow_step: Mapped[int] = mapped_column(SmallInteger, default=0)
    offers_made: Mapped[int] = mapped_column(Integer, default=0)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    queue_entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(40))
    wait_s: Mapped[float | None] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_routing_items_queue_status", "queue_id", "status", "enqueued_at"),
        Index("ix_routing_items_status", "status", "id"),
        Index("ix_routing_items_agent", "agent_id", "status"),
        Index("ix_routing_items_ended", "queue_id", "ended_at"),
        Index("ix_routing_items_assigned", "queue_id", "assigned_at"),
        Index("ix_routing_items_customer", "customer_id", "assigned_at"),
        Index("ix_routing_items_external", "external_ref"),
        # A ticket is in at most one queue at a time.
        Index(
            "uq_routing_items_active_ticket",
            "ticket_id",
            unique=True,
            sqlite_where=text(ACTIVE_ITEM),
            postgresql_where=text(ACTIVE_ITEM),
        ),
    )


class Offer(Base):
    __tablename__ = "routing_offers"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    item_id: Mapped[int] = mapped_column(BIGID, ForeignKey("routing_items.id", ondelete="CASCADE"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    ring: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_routing_offers_agent", "agent_id", "status"),
        Index("ix_routing_offers_due", "status", "expires_at"),
        Index("ix_routing_offers_item", "item_id", "status"),
        # The database itself refuses a second pending offer of one item (ring-all aside).
        Index(
            "uq_routing_offers_pending_item",
            "item_id",
            unique=True,
            sqlite_where=text(PENDING_SOLO_OFFER),
            postgresql_where=text(PENDING_SOLO_OFFER),
        ),
    )
