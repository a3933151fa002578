from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db import Base, UTCDateTime

COMMENT_MAX = 2000


class Survey(Base):
    """One satisfaction survey sent on a ticket. The token in its link is the customer's only
    credential; the rating stays empty until they answer, and may be changed afterwards."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("tickets.id", ondelete="CASCADE")
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    rating: Mapped[int | None] = mapped_column(SmallInteger)  # 1 (very unhappy) .. 5
    comment: Mapped[str | None] = mapped_column(Text)  # at most COMMENT_MAX characters
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_surveys_ticket", "ticket_id", "id"),)
