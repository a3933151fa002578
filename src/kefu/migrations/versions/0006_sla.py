"""business-hours calendars, SLA policies and clocks, notifications

Revision ID: 0006
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kefu.db

revision: str = "0006"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = kefu.db.UTCDateTime
DUE = "next_check_at IS NOT NULL"


def upgrade() -> None:
    op.create_table(
        "business_calendars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("schedule", JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_business_calendars_updated_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_calendars")),
        sa.UniqueConstraint("name", name=op.f("uq_business_calendars_name")),
    )
    op.create_table(
        "sla_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=True),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["business_calendars.id"],
            name=op.f("fk_sla_policies_calendar_id_business_calendars"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_sla_policies_updated_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policies")),
        sa.UniqueConstraint("name", name=op.f("uq_sla_policies_name")),
    )
    op.create_table(
        "sla_config",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_config")),
    )
    _clocks()
    _notifications()


def _clocks() -> None:
    op.create_table(
        "sla_clocks",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("ticket_id", BIGID, nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=True),
        sa.Column("metric", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("target_s", sa.Integer(), nullable=False),
        sa.Column("elapsed_s", sa.Float(), nullable=False),
        sa.Column("started_at", UTC(), nullable=False),
        sa.Column("running_since", UTC(), nullable=True),
        sa.Column("warn_at", UTC(), nullable=True),
        sa.Column("due_at", UTC(), nullable=True),
        sa.Column("next_check_at", UTC(), nullable=True),
        sa.Column("warned_at", UTC(), nullable=True),
        sa.Column("breached_at", UTC(), nullable=True),
        sa.Column("stopped_at", UTC(), nullable=True),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["sla_policies.id"],
            name=op.f("fk_sla_clocks_policy_id_sla_policies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_sla_clocks_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_clocks")),
    )
    op.create_index("ix_sla_clocks_ticket", "sla_clocks", ["ticket_id", "metric", "id"])
    op.create_index(
        "ix_sla_clocks_next_check",
        "sla_clocks",
        ["next_check_at"],
        sqlite_where=sa.text(DUE),
        postgresql_where=sa.text(DUE),
    )
    op.create_index("ix_sla_clocks_policy", "sla_clocks", ["policy_id"])
    op.create_index("ix_sla_clocks_started", "sla_clocks", ["started_at"])


def _notifications() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("ticket_id", BIGID, nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("read_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_notifications_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index("ix_notifications_user", "notifications", ["user_id", "id"])
    op.create_index("ix_notifications_ticket", "notifications", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("sla_clocks")
    op.drop_table("sla_config")
    op.drop_table("sla_policies")
    op.drop_table("business_calendars")
