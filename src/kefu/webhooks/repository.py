"""Every query of the webhooks domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from kefu.db import table_of
from kefu.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhooksConfig

_TOKEN = select(WebhooksConfig.token).where(WebhooksConfig.id == 1)
_INSERT_DELIVERY = insert(table_of(WebhookDelivery)).returning(table_of(WebhookDelivery).c.id)


def config_token(session: Session) -> str | None:
    return session.execute(_TOKEN).scalar_one_or_none()


def set_config_token(session: Session, token: str, now: datetime) -> None:
    result = session.execute(
        update(WebhooksConfig).where(WebhooksConfig.id == 1).values(token=token, updated_at=now)
    )
    if not getattr(result, "rowcount", 0):
        session.execute(insert(WebhooksConfig).values(id=1, token=token, updated_at=now))


def endpoints(session: Session) -> Sequence[WebhookEndpoint]:
    return session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.name)).all()


def get_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint | None:
    return session.get(WebhookEndpoint, endpoint_id)


def endpoint_by_name(session: Session, name: str) -> WebhookEndpoint | None:
    return session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.name == name)).first()


def add(session: Session, obj: Any) -> None:
    session.add(obj)
    session.flush()


def delete_obj(session: Session, obj: Any) -> None:
    session.delete(obj)
    session.flush()


def insert_delivery(session: Session, values: dict[str, Any]) -> int:
    return int(session.execute(_INSERT_DELIVERY, values).scalar_one())


def set_outbox_id(session: Session, delivery_id: int, outbox_id: int) -> None:
    session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(outbox_id=outbox_id)
    )


def get_delivery(session: Session, delivery_id: int) -> WebhookDelivery | None:
    return session.get(WebhookDelivery, delivery_id)


def deliveries(
    session: Session, endpoint_id: int | None, status: str | None, before: int | None, limit: int
) -> Sequence[WebhookDelivery]:
    stmt = select(WebhookDelivery)
    if endpoint_id is not None:
        stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint_id)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    if before is not None:
        stmt = stmt.where(WebhookDelivery.id < before)
    return session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit)).all()
