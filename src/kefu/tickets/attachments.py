"""Uploaded files: recorded before their message exists, attached when it is written."""

from __future__ import annotations

from kefu.db import Ctx
from kefu.kit.errors import Conflict, invalid
from kefu.security.permissions import Principal
from kefu.tickets import repository as repo
from kefu.tickets.models import Attachment
from kefu.tickets.schemas import AttachmentRead


def attachment_read(a: Attachment) -> AttachmentRead:
    return AttachmentRead(
        id=a.id,
        filename=a.filename,
        content_type=a.content_type,
        size=a.size,
        sha256=a.sha256,
        ticket_id=a.ticket_id,
        message_id=a.message_id,
        created_at=a.created_at,
        url=f"/api/v1/attachments/{a.id}",
    )


def record_upload(
    ctx: Ctx, actor: Principal | None, filename: str, content_type: str, size: int, sha256: str
) -> AttachmentRead:
    attachment_id = repo.insert_attachment(
        ctx.session,
        {
            "filename": filename,
            "content_type": content_type,
            "size": size,
            "sha256": sha256,
            "uploaded_by_id": actor.user_id if actor else None,
            "created_at": ctx.now(),
        },
    )
    return attachment_read(repo.get_attachment(ctx.session, attachment_id))  # type: ignore[arg-type]


def record_uploads(
    ctx: Ctx, actor: Principal | None, files: list[tuple[str, str, int, str]]
) -> list[AttachmentRead]:
    """Several uploads (filename, content type, size, sha256) in one statement: the files a
    channel message brought."""
    now = ctx.now()
    rows = [
        {
            "filename": name,
            "content_type": ctype,
            "size": size,
            "sha256": sha,
            "uploaded_by_id": actor.user_id if actor else None,
            "created_at": now,
        }
        for name, ctype, size, sha in files
    ]
    ids = repo.insert_attachments(ctx.session, rows)
    return [
        AttachmentRead(id=i, **row, ticket_id=None, message_id=None, url=f"/api/v1/attachments/{i}")
        for i, row in zip(ids, rows, strict=True)
    ]


def attach_recorded(ctx: Ctx, ids: list[int], ticket_id: int, message_id: int) -> None:
    """Uploads ``record_uploads`` wrote in this unit of work (a channel message's files) join
    their message. kefu recorded them a moment ago, so unlike an agent's ``attachment_ids``
    there is nothing to check: no read before the update."""
    repo.attach_new(ctx.session, list(dict.fromkeys(ids)), ticket_id, message_id)


def attach_uploads(
    ctx: Ctx, actor: Principal | None, ids: list[int], ticket_id: int, message_id: int
) -> None:
    if not ids:
        return
    found = repo.attachments_by_id(ctx.session, ids)
    for index, attachment_id in enumerate(ids):
        a = found.get(attachment_id)
        mine = a is not None and (actor is None or a.uploaded_by_id == actor.user_id)
        if a is None or not mine:
            raise invalid(["body", "attachment_ids", index], f"no upload {attachment_id} of yours")
        if a.message_id is not None:
            raise Conflict(f"Attachment {attachment_id} already belongs to message {a.message_id}")
    repo.attach(ctx.session, list(dict.fromkeys(ids)), ticket_id, message_id)
