"""A visitor's chat (``WebchatSession``), its sequenced log of messages (``WebchatEvent``)
and the files a visitor uploaded before sending them (``WebchatUpload``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db import Base, UTCDateTime

BIGID = BigInteger().with_variant(Integer, "sqlite")


class WebchatSession(Base):
    """One visitor's conversation in one browser: the widget keeps its token, the server
    keeps the token's digest and numbers every message of the conversation (``last_seq``)
    so a reconnecting widget asks for what it missed."""

    __tablename__ = "webchat_sessions"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id", ondelete="CASCADE"))
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    identity_kind: Mapped[str] = mapped_column(String(20))  # webchat (anonymous), email, external
    identity_value: Mapped[str] = mapped_column(String(254))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    ticket_id: Mapped[int | None] = mapped_column(
        BIGID, ForeignKey("tickets.id", ondelete="SET NULL")
    )
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(10), default="en")
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    received_seq: Mapped[int] = mapped_column(Integer, default=0)  # the visitor's widget got these
    read_seq: Mapped[int] = mapped_column(Integer, default=0)  # the visitor has seen these
    agent_read_seq: Mapped[int] = mapped_column(Integer, default=0)  # agents have read these
    transcript_seq: Mapped[int] = mapped_column(Integer, default=0)  # emailed up to here
    first_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_webchat_sessions_ticket", "ticket_id"),
        Index("ix_webchat_sessions_account", "account_id", "first_reply_at"),
    )


class WebchatEvent(Base):
    """Message number ``seq`` of a conversation: a visitor's message (with the widget's
    ``client_id``, stored once however often it is resent) or an agent's reply."""

    __tablename__ = "webchat_events"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        BIGID, ForeignKey("webchat_sessions.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[int] = mapped_column(BIGID, ForeignKey("messages.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(10))  # customer, agent
    client_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("session_id", "seq", name="uq_webchat_events_session_seq"),
        UniqueConstraint("session_id", "client_id", name="uq_webchat_events_session_client"),
        UniqueConstraint("session_id", "message_id", name="uq_webchat_events_session_message"),
        Index("ix_webchat_events_message", "message_id"),
    )


class WebchatUpload(Base):
    """A file a visitor uploaded; a later message names it to attach it."""

    __tablename__ = "webchat_uploads"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        BIGID, ForeignKey("webchat_sessions.id", ondelete="CASCADE")
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_webchat_uploads_session", "session_id", "created_at"),)
