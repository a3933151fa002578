"""web chat: visitor sessions, their sequenced messages, pending uploads

Revision ID: 0009
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kefu.db

revision: str = "0009"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    _sessions()
    op.create_table(
        "webchat_events",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("session_id", BIGID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("message_id", BIGID, nullable=False),
        sa.Column("author", sa.String(length=10), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", kefu.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_webchat_events_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["webchat_sessions.id"],
            name=op.f("fk_webchat_events_session_id_webchat_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webchat_events")),
        sa.UniqueConstraint("session_id", "client_id", name="uq_webchat_events_session_client"),
        sa.UniqueConstraint("session_id", "message_id", name="uq_webchat_events_session_message"),
        sa.UniqueConstraint("session_id", "seq", name="uq_webchat_events_session_seq"),
    )
    op.create_index("ix_webchat_events_message", "webchat_events", ["message_id"])
    op.create_table(
        "webchat_uploads",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("session_id", BIGID, nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", kefu.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["webchat_sessions.id"],
            name=op.f("fk_webchat_uploads_session_id_webchat_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webchat_uploads")),
    )
    op.create_index("ix_webchat_uploads_session", "webchat_uploads", ["session_id", "created_at"])


def _sessions() -> None:
    op.create_table(
        "webchat_sessions",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("identity_kind", sa.String(length=20), nullable=False),
        sa.Column("identity_value", sa.String(length=254), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", BIGID, nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("received_seq", sa.Integer(), nullable=False),
        sa.Column("read_seq", sa.Integer(), nullable=False),
        sa.Column("agent_read_seq", sa.Integer(), nullable=False),
        sa.Column("transcript_seq", sa.Integer(), nullable=False),
        sa.Column("first_message_at", kefu.db.UTCDateTime(), nullable=True),
        sa.Column("first_reply_at", kefu.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", kefu.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", kefu.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["channel_accounts.id"],
            name=op.f("fk_webchat_sessions_account_id_channel_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_webchat_sessions_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_webchat_sessions_team_id_teams"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_webchat_sessions_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webchat_sessions")),
        sa.UniqueConstraint("public_id", name=op.f("uq_webchat_sessions_public_id")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_webchat_sessions_token_digest")),
    )
    op.create_index(
        "ix_webchat_sessions_account", "webchat_sessions", ["account_id", "first_reply_at"]
    )
    op.create_index("ix_webchat_sessions_ticket", "webchat_sessions", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("webchat_uploads")
    op.drop_table("webchat_events")
    op.drop_index("ix_webchat_sessions_ticket", table_name="webchat_sessions")
    op.drop_index("ix_webchat_sessions_account", table_name="webchat_sessions")
    op.drop_table("webchat_sessions")
