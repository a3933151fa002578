"""JSON routes of the caller's own notifications."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from kefu.notifications import service as notifications
from kefu.notifications.schemas import NotificationPage
from kefu.security.deps import RuntimeDep, require
from kefu.security.permissions import Action, Principal

router = APIRouter(prefix="/api/v1", tags=["notifications"])
Own = Annotated[Principal, Depends(require(Action.notification_own))]


class MarkRead(BaseModel):
    ids: list[int] | None = Field(default=None, max_length=500, description="None: all")


@router.get("/notifications")
async def list_notifications(
    principal: Own,
    runtime: RuntimeDep,
    unread: bool = False,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> NotificationPage:
    return await runtime.db.read(notifications.my_notifications, principal, unread, cursor, limit)


@router.post("/notifications/read")
async def mark_read(data: MarkRead, principal: Own, runtime: RuntimeDep) -> dict[str, int]:
    return {"marked": await runtime.db.write(notifications.mark_read, principal, data.ids)}
