"""Alembic environment: the URL comes from kefu's settings (or the caller's config)."""

from __future__ import annotations

from typing import Any

from alembic import context

from kefu.models import metadata

# Search tables are written by hand per dialect (FTS5 / tsvector); autogenerate skips them.
HAND_MADE = {"ticket_fts", "ticket_search"}


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    if (
        type_ == "table"
        and name is not None
        and (name in HAND_MADE or name.startswith("ticket_fts_"))
    ):
        return False
    return not (
        type_ == "index" and obj is not None and getattr(obj.table, "name", "") in HAND_MADE
    )


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("kefu runs migrations through kefu.migrate, which passes a connection")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
