"""Every query of call records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kefu.channels.voice.models import CallRecord


def call_by_channel(
    session: Session, account_id: int | None, channel_ids: list[str]
) -> CallRecord | None:
    """The call one of these channels belongs to (as the caller's or the agent's leg),
    preferring the earlier ids."""
    stmt = select(CallRecord).where(
        CallRecord.account_id == account_id,
        or_(CallRecord.external_id.in_(channel_ids), CallRecord.agent_channel_id.in_(channel_ids)),
    )
    found = list(session.scalars(stmt))
    for channel_id in channel_ids:
        for call in found:
            if channel_id in (call.external_id, call.agent_channel_id):
                return call
    return None


def call_by_routing_item(session: Session, item_id: int) -> CallRecord | None:
    return session.scalars(select(CallRecord).where(CallRecord.routing_item_id == item_id)).first()


def calls_of_ticket(session: Session, ticket_id: int) -> Sequence[CallRecord]:
    stmt = select(CallRecord).where(CallRecord.ticket_id == ticket_id).order_by(CallRecord.id)
    return session.scalars(stmt).all()


def get_call(session: Session, call_id: int) -> CallRecord | None:
    return session.get(CallRecord, call_id)


def add(session: Session, obj: Any) -> None:
    session.add(obj)
    session.flush()
