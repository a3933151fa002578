"""Notify people inside kefu; each sees and clears their own. Never commits."""

from __future__ import annotations

from kefu.db import Ctx
from kefu.kit.pagination import decode_cursor, encode_cursor
from kefu.notifications import repository as repo
from kefu.notifications.schemas import NewNotification, NotificationPage, NotificationRead
from kefu.security.permissions import Principal


def notify(ctx: Ctx, notes: list[NewNotification]) -> list[int]:
    """Store the notifications (one per recipient) and announce each."""
    now = ctx.now()
    rows = [note.model_dump() | {"created_at": now} for note in notes]
    ids = repo.insert_many(ctx.session, rows)
    for note_id, note in zip(ids, notes, strict=True):
        ctx.emit(
            "notification.created",
            notification_id=note_id,
            user_id=note.user_id,
            kind=note.kind,
            ticket_id=note.ticket_id,
        )
    return ids


def my_notifications(
    ctx: Ctx,
    actor: Principal,
    unread_only: bool = False,
    cursor: str | None = None,
    limit: int = 50,
) -> NotificationPage:
    before = int(decode_cursor(cursor, 1)[0]) if cursor else None
    rows = repo.page(ctx.session, actor.user_id, unread_only, before, limit + 1)
    page = rows[:limit]
    return NotificationPage(
        items=[
            NotificationRead(
                id=n.id,
                kind=n.kind,
                ticket_id=n.ticket_id,
                data=dict(n.data or {}),
                created_at=n.created_at,
                read_at=n.read_at,
            )
            for n in page
        ],
        next_cursor=encode_cursor([page[-1].id]) if len(rows) > limit else None,
        unread=repo.unread_count(ctx.session, actor.user_id),
    )


def mark_read(ctx: Ctx, actor: Principal, ids: list[int] | None) -> int:
    """Mark some (or, with None, all) of the caller's notifications read."""
    return repo.mark_read(ctx.session, actor.user_id, ids, ctx.now())
