from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class NotificationRead(BaseModel):
    id: int
    kind: str
    ticket_id: int | None
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BaseModel):
    items: list[NotificationRead]
    next_cursor: str | None
    unread: int


class NewNotification(BaseModel):
    user_id: int
    kind: str
    ticket_id: int | None = None
    data: dict[str, Any] = {}
