"""channel accounts and per-ticket channel threads

Revision ID: 0010
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kefu.db

revision: str = "0010"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "channel_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("secrets", sa.Text(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", kefu.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", kefu.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_channel_accounts_team_id_teams"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_accounts")),
    )
    op.create_index("ix_channel_accounts_kind", "channel_accounts", ["kind", "address"])
    op.create_table(
        "channel_threads",
        sa.Column("ticket_id", BIGID, nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("remote", sa.String(length=254), nullable=False),
        sa.Column("reply_token", sa.String(length=40), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("updated_at", kefu.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["channel_accounts.id"],
            name=op.f("fk_channel_threads_account_id_channel_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_channel_threads_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_channel_threads")),
        sa.UniqueConstraint("reply_token", name=op.f("uq_channel_threads_reply_token")),
    )


def downgrade() -> None:
    op.drop_table("channel_threads")
    op.drop_index("ix_channel_accounts_kind", table_name="channel_accounts")
    op.drop_table("channel_accounts")
