"""join the feature branches (workspace, routing, SLA, channels, rules, indexes) into one head

Each subsystem grew its tables in its own revision off the foundation; this empty revision
makes them one line again so `kefu migrate` and /readyz compare against a single head.

Revision ID: 0014
Revises: 0003, 0005, 0006, 0007, 0008, 0009, 0011, 0013
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0014"
down_revision: str | Sequence[str] | None = (
    "0003",
    "0005",
    "0006",
    "0007",
    "0008",
    "0009",
    "0011",
    "0013",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
