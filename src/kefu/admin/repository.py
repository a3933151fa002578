"""Every query of the organisation settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.admin.models import AppSetting


def all_settings(session: Session) -> dict[str, Any]:
    return {row.key: row.value for row in session.scalars(select(AppSetting))}


def put(session: Session, key: str, value: Any, when: datetime) -> None:
    row = session.get(AppSetting, key)
    if row is None:
        session.add(AppSetting(key=key, value=value, updated_at=when))
    else:
        row.value, row.updated_at = value, when
    session.flush()
