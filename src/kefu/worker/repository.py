"""Every query of the worker: leases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from kefu.worker.models import WorkerLease


def take_lease(session: Session, name: str, holder: str, now: datetime, until: datetime) -> bool:
    """Extend our lease, or take one that expired; False when another holder has it."""
    result = session.execute(
        update(WorkerLease)
        .where(WorkerLease.name == name)
        .where(or_(WorkerLease.holder == holder, WorkerLease.expires_at < now))
        .values(holder=holder, expires_at=until)
    )
    if getattr(result, "rowcount", 0):
        return True
    if session.scalar(select(WorkerLease.name).where(WorkerLease.name == name)) is not None:
        return False
    session.execute(insert(WorkerLease).values(name=name, holder=holder, expires_at=until))
    return True


def release_lease(session: Session, name: str, holder: str, now: datetime) -> None:
    session.execute(
        update(WorkerLease)
        .where(WorkerLease.name == name, WorkerLease.holder == holder)
        .values(expires_at=now)
    )
