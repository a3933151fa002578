"""routing: agent seats, state history, break reasons, queues, work items, offers

Revision ID: 0005
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kefu.db

revision: str = "0005"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ACTIVE_ITEM = "status IN ('waiting', 'offered', 'assigned')"
PENDING_SOLO_OFFER = "status = 'pending' AND ring = false"
UTC = kefu.db.UTCDateTime


def upgrade() -> None:
    _seats()
    _queues()
    _items()
    _offers()


def _seats() -> None:
    op.create_table(
        "agent_seats",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("state_since", UTC(), nullable=False),
        sa.Column("state_until", UTC(), nullable=True),
        sa.Column("capacity", JSON, nullable=False),
        sa.Column("blocks", JSON, nullable=False),
        sa.Column("skills", JSON, nullable=False),
        sa.Column("languages", JSON, nullable=False),
        sa.Column("max_no_answer", sa.SmallInteger(), nullable=False),
        sa.Column("missed_in_row", sa.SmallInteger(), nullable=False),
        sa.Column("cooldown_s", sa.Integer(), nullable=False),
        sa.Column("cooldown_until", UTC(), nullable=True),
        sa.Column("idle_since", UTC(), nullable=False),
        sa.Column("heartbeat_at", UTC(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_agent_seats_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_agent_seats")),
    )
    op.create_index("ix_agent_seats_state", "agent_seats", ["state"])
    op.create_index("ix_agent_seats_heartbeat", "agent_seats", ["heartbeat_at"])
    op.create_table(
        "agent_state_history",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("started_at", UTC(), nullable=False),
        sa.Column("ended_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_agent_state_history_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_state_history")),
    )
    op.create_index("ix_agent_state_history_user", "agent_state_history", ["user_id", "started_at"])
    op.create_index("ix_agent_state_history_started", "agent_state_history", ["started_at"])
    op.create_table(
        "break_reasons",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_break_reasons")),
    )


def _queues() -> None:
    op.create_table(
        "routing_queues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("strategy", sa.String(length=20), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("channels", JSON, nullable=False),
        sa.Column("skills", JSON, nullable=False),
        sa.Column("match_language", sa.Boolean(), nullable=False),
        sa.Column("offer_timeout_s", sa.Integer(), nullable=False),
        sa.Column("wrap_up_s", sa.Integer(), nullable=False),
        sa.Column("auto_accept", sa.Boolean(), nullable=False),
        sa.Column("sl_threshold_s", sa.Integer(), nullable=False),
        sa.Column("sl_target", sa.Float(), nullable=False),
        sa.Column("weights", JSON, nullable=False),
        sa.Column("overflow", JSON, nullable=False),
        sa.Column("sticky_window_s", sa.Integer(), nullable=False),
        sa.Column("sticky_wait_s", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_routing_queues_team_id_teams"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_queues")),
        sa.UniqueConstraint("name", name=op.f("uq_routing_queues_name")),
    )
    op.create_index("ix_routing_queues_team", "routing_queues", ["team_id", "position"])


def _items() -> None:
    op.create_table(
        "routing_items",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("external_ref", sa.String(length=200), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("media", sa.String(length=10), nullable=False),
        sa.Column("skills", JSON, nullable=False),
        sa.Column("language", sa.String(length=10), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("tier", sa.String(length=30), nullable=False),
        sa.Column("sla_due_at", UTC(), nullable=True),
        sa.Column("sticky_agent_id", sa.Integer(), nullable=True),
        sa.Column("sticky_until", UTC(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("front", sa.Boolean(), nullable=False),
        sa.Column("overflow_step", sa.SmallInteger(), nullable=False),
        sa.Column("offers_made", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("enqueued_at", UTC(), nullable=False),
        sa.Column("queue_entered_at", UTC(), nullable=False),
        sa.Column("assigned_at", UTC(), nullable=True),
        sa.Column("ended_at", UTC(), nullable=True),
        sa.Column("end_reason", sa.String(length=40), nullable=True),
        sa.Column("wait_s", sa.Float(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["routing_queues.id"],
            name=op.f("fk_routing_items_queue_id_routing_queues"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_routing_items_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["users.id"],
            name=op.f("fk_routing_items_agent_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_items")),
    )
    for name, columns in (
        ("ix_routing_items_queue_status", ["queue_id", "status", "enqueued_at"]),
        ("ix_routing_items_status", ["status", "id"]),
        ("ix_routing_items_agent", ["agent_id", "status"]),
        ("ix_routing_items_ended", ["queue_id", "ended_at"]),
        ("ix_routing_items_assigned", ["queue_id", "assigned_at"]),
        ("ix_routing_items_customer", ["customer_id", "assigned_at"]),
        ("ix_routing_items_external", ["external_ref"]),
    ):
        op.create_index(name, "routing_items", columns)
    op.create_index(
        "uq_routing_items_active_ticket",
        "routing_items",
        ["ticket_id"],
        unique=True,
        sqlite_where=sa.text(ACTIVE_ITEM),
        postgresql_where=sa.text(ACTIVE_ITEM),
    )


def _offers() -> None:
    op.create_table(
        "routing_offers",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("item_id", BIGID, nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("ring", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("expires_at", UTC(), nullable=False),
        sa.Column("decided_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["routing_items.id"],
            name=op.f("fk_routing_offers_item_id_routing_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["users.id"],
            name=op.f("fk_routing_offers_agent_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_offers")),
    )
    op.create_index("ix_routing_offers_agent", "routing_offers", ["agent_id", "status"])
    op.create_index("ix_routing_offers_due", "routing_offers", ["status", "expires_at"])
    op.create_index("ix_routing_offers_item", "routing_offers", ["item_id", "status"])
    op.create_index(
        "uq_routing_offers_pending_item",
        "routing_offers",
        ["item_id"],
        unique=True,
        sqlite_where=sa.text(PENDING_SOLO_OFFER),
        postgresql_where=sa.text(PENDING_SOLO_OFFER),
    )


def downgrade() -> None:
    for table in (
        "routing_offers",
        "routing_items",
        "routing_queues",
        "break_reasons",
        "agent_state_history",
        "agent_seats",
    ):
        op.drop_table(table)
