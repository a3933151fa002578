from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db import Base, UTCDateTime


class EmailMailboxState(Base):
    """How far an IMAP mailbox was read: mail with a UID above ``last_uid`` is new, as long
    as the server's UIDVALIDITY is still the one recorded (else every UID changed)."""

    __tablename__ = "email_mailbox_states"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("channel_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    mailbox: Mapped[str] = mapped_column(String(200), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
