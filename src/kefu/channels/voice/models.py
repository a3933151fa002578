from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db import Base, UTCDateTime


class CallRecord(Base):
    """One phone call as the PBX reported it, on the customer's ticket. Durations are whole
    seconds: ring (offered → answered or ended), talk (answered → ended, less hold), hold,
    wrap-up (ended → the agent finished after-call work)."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("channel_accounts.id", ondelete="SET NULL")
    )
    external_id: Mapped[str] = mapped_column(String(100))  # the PBX's id of the caller's leg
    agent_channel_id: Mapped[str | None] = mapped_column(String(100))  # the agent's leg
    routing_item_id: Mapped[int | None] = mapped_column(Integer)  # the router's work item
    ticket_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("tickets.id", ondelete="CASCADE")
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    direction: Mapped[str] = mapped_column(String(10))  # inbound, outbound
    from_number: Mapped[str] = mapped_column(String(40))
    to_number: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(12))  # ringing, answered, held, ended, wrapped
    ringing_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hold_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wrapped_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ring_s: Mapped[int | None] = mapped_column(Integer)
    talk_s: Mapped[int | None] = mapped_column(Integer)
    hold_s: Mapped[int] = mapped_column(Integer, default=0)
    wrap_up_s: Mapped[int | None] = mapped_column(Integer)
    transferred_to: Mapped[str | None] = mapped_column(String(100))
    end_cause: Mapped[str | None] = mapped_column(String(100))
    recording_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("account_id", "external_id", name="uq_calls_account_external"),
        Index("ix_calls_ticket", "ticket_id", "id"),
        Index("ix_calls_agent", "agent_id", "ringing_at"),
        Index("ix_calls_agent_channel", "agent_channel_id"),
        Index("ix_calls_routing_item", "routing_item_id"),
    )
