"""Every query of the channels domain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from kefu.channels.models import ChannelAccount, ChannelThread
from kefu.db import table_of

# Every new conversation writes one: a Core insert built once, not an ORM object and a flush.
_INSERT_THREAD = insert(table_of(ChannelThread))


def get_account(session: Session, account_id: int) -> ChannelAccount | None:
    return session.get(ChannelAccount, account_id)


def list_accounts(session: Session, kind: str | None = None) -> Sequence[ChannelAccount]:
    stmt = select(ChannelAccount).order_by(ChannelAccount.kind, ChannelAccount.id)
    if kind is not None:
        stmt = stmt.where(ChannelAccount.kind == kind)
    return session.scalars(stmt).all()


def add(session: Session, obj: Any) -> None:
    session.add(obj)
    session.flush()


def delete(session: Session, obj: Any) -> None:
    session.delete(obj)
    session.flush()


def insert_thread(session: Session, values: dict[str, Any]) -> None:
    session.execute(_INSERT_THREAD, values)


def get_thread(session: Session, ticket_id: int) -> ChannelThread | None:
    return session.get(ChannelThread, ticket_id)


_threads = table_of(ChannelThread)
_THREAD_ROW = select(
    _threads.c.channel,
    _threads.c.account_id,
    _threads.c.remote,
    _threads.c.data,
    _threads.c.reply_token,
).where(_threads.c.ticket_id == bindparam("ticket_id"))


def thread_row(session: Session, ticket_id: int) -> Any:
    """(channel, account id, remote, data, reply token) of a ticket's thread: every reply
    sent reads it."""
    return session.execute(_THREAD_ROW, {"ticket_id": ticket_id}).first()


def thread_by_token(session: Session, token: str) -> ChannelThread | None:
    return session.scalars(select(ChannelThread).where(ChannelThread.reply_token == token)).first()
