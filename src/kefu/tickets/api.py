"""JSON routes of tickets, their messages, history, relations and attachments."""

from __future__ import annotations

from typing import Annotated, TypeVar

import anyio
from fastapi import APIRouter, Depends, File, Header, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse

from kefu.kit.errors import invalid
from kefu.kit.files import path_for, store
from kefu.kit.http import Id, etag, parse_if_match
from kefu.kit.query import query_parameters, read_query
from kefu.kit.validators import tag_query
from kefu.runtime import get_runtime
from kefu.security.deps import RuntimeDep, require
from kefu.security.permissions import Action, Principal
from kefu.tickets import conversation, relations
from kefu.tickets import service as tickets
from kefu.tickets.attachments import record_upload
from kefu.tickets.models import PRIORITY_RANK, Priority, Status
from kefu.tickets.repository import TicketFilter
from kefu.tickets.schemas import (
    AttachmentRead,
    BulkResult,
    BulkUpdate,
    HistoryPage,
    LinkCreate,
    MergeRequest,
    MessageCreate,
    MessagePage,
    MessageRead,
    SplitRequest,
    TicketCreate,
    TicketListQuery,
    TicketPage,
    TicketQuery,
    TicketRead,
    TicketUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["tickets"])
Reader = Annotated[Principal, Depends(require(Action.ticket_read))]
Writer = Annotated[Principal, Depends(require(Action.ticket_write))]
Deleter = Annotated[Principal, Depends(require(Action.ticket_delete))]
Q = TypeVar("Q", bound=TicketQuery)


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for raw in values or [] for v in raw.split(",") if v.strip()]


def _filtered(request: Request, principal: Principal, model: type[Q]) -> tuple[Q, TicketFilter]:
    """The query string and the ticket filter it asks for."""
    query = read_query(request, model)
    statuses = _split(query.status)
    for s in statuses:
        if s not in Status.__members__:
            raise invalid(["query", "status"], f"'{s}' is not a status ({', '.join(Status)})")
    priorities = _split(query.priority)
    for p in priorities:
        if p not in Priority.__members__:
            raise invalid(["query", "priority"], f"'{p}' is not a priority ({', '.join(Priority)})")
    flt = TicketFilter(
        status=statuses,
        priority=[PRIORITY_RANK[Priority(p)] for p in priorities],
        team_id=query.team_id,
        tag=tag_query(query.tag),
        channel=query.channel,
        requester_id=query.requester_id,
        created_from=query.created_after,
        created_to=query.created_before,
        updated_from=query.updated_after,
        updated_to=query.updated_before,
        q=query.q.strip() if query.q else None,
    )
    _assignee(flt, query.assignee_id, principal)
    for pair in query.custom_field or []:
        key, sep, value = pair.partition(":")
        if not sep or not key:
            raise invalid(["query", "custom_field"], f"'{pair}' is not key:value")
        flt.custom[key] = value
    return query, flt


def _assignee(flt: TicketFilter, raw: str | None, principal: Principal) -> None:
    if raw is None:
        return
    if raw == "me":
        flt.assignee_id = principal.user_id
    elif raw == "none":
        flt.unassigned = True
    elif raw.isdigit():
        flt.assignee_id = int(raw)
    else:
        raise invalid(["query", "assignee_id"], "must be a user id, 'me' or 'none'")


@router.post("/tickets", status_code=201)
async def create_ticket(
    data: TicketCreate, principal: Writer, runtime: RuntimeDep, response: Response
) -> TicketRead:
    ticket = await runtime.db.write(tickets.create_ticket, principal, data)
    response.headers["Location"] = f"/api/v1/tickets/{ticket.id}"
    response.headers["ETag"] = etag(ticket.version)
    return ticket


# The list and its count read their query string in one validation (kit/query.py).
@router.get("/tickets", response_model=TicketPage, openapi_extra=query_parameters(TicketListQuery))
async def list_tickets(request: Request, principal: Reader) -> Response:
    query, flt = _filtered(request, principal, TicketListQuery)
    page = await get_runtime(request).db.read(
        tickets.list_json, principal, flt, sort=query.sort, cursor=query.cursor, limit=query.limit
    )
    # The database wrote the items' JSON (tests compare it with the model's).
    return Response(page, media_type="application/json")


@router.get("/tickets/count", openapi_extra=query_parameters(TicketQuery))
async def count_tickets(request: Request, principal: Reader) -> dict[str, int]:
    _, flt = _filtered(request, principal, TicketQuery)
    return {"count": await get_runtime(request).db.read(tickets.count_tickets, principal, flt)}


@router.post("/tickets/bulk-update")
async def bulk_update(data: BulkUpdate, principal: Writer, runtime: RuntimeDep) -> BulkResult:
    return await runtime.db.write(tickets.bulk_update, principal, data)


@router.get("/tickets/{ticket_id}")
async def get_ticket(
    ticket_id: Id, principal: Reader, runtime: RuntimeDep, response: Response
) -> TicketRead:
    ticket = await runtime.db.read(tickets.get_ticket, principal, ticket_id)
    response.headers["ETag"] = etag(ticket.version)
    return ticket


@router.patch("/tickets/{ticket_id}")
async def update_ticket(
    ticket_id: Id,
    data: TicketUpdate,
    principal: Writer,
    runtime: RuntimeDep,
    response: Response,
    if_match: Annotated[str | None, Header(description='The ETag you read, e.g. W/"3"')] = None,
) -> TicketRead:
    version = parse_if_match(if_match)
    ticket = await runtime.db.write(tickets.update_ticket, principal, ticket_id, data, version)
    response.headers["ETag"] = etag(ticket.version)
    return ticket


@router.delete("/tickets/{ticket_id}", status_code=204)
async def delete_ticket(ticket_id: Id, principal: Deleter, runtime: RuntimeDep) -> Response:
    await runtime.db.write(tickets.delete_ticket, principal, ticket_id)
    return Response(status_code=204)


@router.get("/tickets/{ticket_id}/messages")
async def list_messages(
    ticket_id: Id,
    principal: Reader,
    runtime: RuntimeDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> MessagePage:
    return await runtime.db.read(conversation.list_messages, principal, ticket_id, cursor, limit)


@router.post("/tickets/{ticket_id}/messages", status_code=201)
async def add_message(
    ticket_id: Id, data: MessageCreate, principal: Writer, runtime: RuntimeDep
) -> MessageRead:
    return await runtime.db.write(conversation.add_message, principal, ticket_id, data)


@router.get("/tickets/{ticket_id}/history")
async def history(
    ticket_id: Id,
    principal: Reader,
    runtime: RuntimeDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> HistoryPage:
    return await runtime.db.read(conversation.history, principal, ticket_id, cursor, limit)


@router.post("/tickets/{ticket_id}/merge")
async def merge(
    ticket_id: Id, data: MergeRequest, principal: Writer, runtime: RuntimeDep
) -> TicketRead:
    return await runtime.db.write(relations.merge_tickets, principal, ticket_id, data)


@router.post("/tickets/{ticket_id}/split", status_code=201)
async def split(
    ticket_id: Id, data: SplitRequest, principal: Writer, runtime: RuntimeDep
) -> TicketRead:
    return await runtime.db.write(relations.split_ticket, principal, ticket_id, data)


@router.post("/tickets/{ticket_id}/links", status_code=201)
async def link(
    ticket_id: Id, data: LinkCreate, principal: Writer, runtime: RuntimeDep
) -> TicketRead:
    return await runtime.db.write(relations.link_tickets, principal, ticket_id, data)


@router.delete("/tickets/{ticket_id}/links/{other_id}")
async def unlink(ticket_id: Id, other_id: Id, principal: Writer, runtime: RuntimeDep) -> TicketRead:
    return await runtime.db.write(relations.unlink_tickets, principal, ticket_id, other_id)


@router.post("/attachments", status_code=201, tags=["attachments"])
async def upload(
    file: Annotated[UploadFile, File()], principal: Writer, runtime: RuntimeDep
) -> AttachmentRead:
    settings = runtime.settings
    stored = await anyio.to_thread.run_sync(
        store,
        settings.attachments_dir,
        file.file,
        file.content_type or "",
        settings.max_attachment_bytes,
    )
    name = (file.filename or "file").replace("/", "_").replace("\\", "_")[-255:]
    return await runtime.db.write(
        record_upload, principal, name, stored.content_type, stored.size, stored.sha256
    )


@router.get("/attachments/{attachment_id}", tags=["attachments"], response_class=FileResponse)
async def download(attachment_id: Id, principal: Reader, runtime: RuntimeDep) -> FileResponse:
    a = await runtime.db.read(conversation.attachment_for_download, principal, attachment_id)
    return FileResponse(
        path_for(runtime.settings.attachments_dir, a.sha256),
        media_type=a.content_type,
        filename=a.filename,
        content_disposition_type="attachment",
        headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"},
    )
