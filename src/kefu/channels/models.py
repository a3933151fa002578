from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db import Base, JSONType, UTCDateTime


class ChannelAccount(Base):
    """One configured entry point: a mailbox, a WhatsApp number, a Telegram bot, ..."""

    __tablename__ = "channel_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # the adapter's name
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(254), default="")  # mailbox, number, bot name
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    secrets: Mapped[str] = mapped_column(Text, default="")  # SecretBox-sealed JSON
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_channel_accounts_kind", "kind", "address"),)


class ChannelThread(Base):
    """What a channel keeps about a ticket's conversation: where replies go and how the
    vendor threads them (email Message-IDs, a chat id, the reply token)."""

    __tablename__ = "channel_threads"

    ticket_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("tickets.id", ondelete="CASCADE"),
        primary_key=True,
    )
    channel: Mapped[str] = mapped_column(String(20))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("channel_accounts.id", ondelete="SET NULL")
    )
    remote: Mapped[str] = mapped_column(String(254))
    reply_token: Mapped[str] = mapped_column(String(40), unique=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
