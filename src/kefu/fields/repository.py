"""Every query of the custom-field domain."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.fields.models import FieldDefinition


def list_definitions(
    session: Session, entity: str | None = None, *, active_only: bool = False
) -> Sequence[FieldDefinition]:
    stmt = select(FieldDefinition).order_by(FieldDefinition.position, FieldDefinition.id)
    if entity is not None:
        stmt = stmt.where(FieldDefinition.entity == entity)
    if active_only:
        stmt = stmt.where(FieldDefinition.active.is_(True))
    return session.scalars(stmt).all()


def get_definition(session: Session, definition_id: int) -> FieldDefinition | None:
    return session.get(FieldDefinition, definition_id)


def find_definition(session: Session, entity: str, key: str) -> FieldDefinition | None:
    stmt = select(FieldDefinition).where(
        FieldDefinition.entity == entity, FieldDefinition.key == key
    )
    return session.scalars(stmt).first()


def add(session: Session, definition: FieldDefinition) -> None:
    session.add(definition)
    session.flush()


def delete(session: Session, definition: FieldDefinition) -> None:
    session.delete(definition)
    session.flush()
