"""call records of the voice (CTI) channel; why an outbound message failed

Revision ID: 0008
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kefu.db

revision: str = "0008"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("messages", sa.Column("delivery_error", sa.String(length=500), nullable=True))
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("external_id", sa.String(length=100), nullable=False),
        sa.Column("agent_channel_id", sa.String(length=100), nullable=True),
        sa.Column("routing_item_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", BIGID, nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("from_number", sa.String(length=40), nullable=False),
        sa.Column("to_number", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("ringing_at", kefu.db.UTCDateTime(), nullable=False),
        sa.Column("answered_at", kefu.db.UTCDateTime(), nullable=True),
        sa.Column("hold_started_at", kefu.db.UTCDateTime(), nullable=True),
        sa.Column("ended_at", kefu.db.UTCDateTime(), nullable=True),
        sa.Column("wrapped_up_at", kefu.db.UTCDateTime(), nullable=True),
        sa.Column("ring_s", sa.Integer(), nullable=True),
        sa.Column("talk_s", sa.Integer(), nullable=True),
        sa.Column("hold_s", sa.Integer(), nullable=False),
        sa.Column("wrap_up_s", sa.Integer(), nullable=True),
        sa.Column("transferred_to", sa.String(length=100), nullable=True),
        sa.Column("end_cause", sa.String(length=100), nullable=True),
        sa.Column("recording_url", sa.String(length=500), nullable=True),
        sa.Column("created_at", kefu.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", kefu.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["channel_accounts.id"],
            name=op.f("fk_calls_account_id_channel_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_calls_agent_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_calls_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_calls_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("account_id", "external_id", name="uq_calls_account_external"),
    )
    op.create_index("ix_calls_ticket", "calls", ["ticket_id", "id"])
    op.create_index("ix_calls_agent", "calls", ["agent_id", "ringing_at"])
    op.create_index("ix_calls_agent_channel", "calls", ["agent_channel_id"])
    op.create_index("ix_calls_routing_item", "calls", ["routing_item_id"])


def downgrade() -> None:
    op.drop_index("ix_calls_routing_item", table_name="calls")
    op.drop_index("ix_calls_agent_channel", table_name="calls")
    op.drop_index("ix_calls_agent", table_name="calls")
    op.drop_index("ix_calls_ticket", table_name="calls")
    op.drop_table("calls")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("delivery_error")
