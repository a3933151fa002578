"""HTTP and WebSocket routes of web chat, and ``install`` which wires it into the app."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import anyio
import orjson
from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    File,
    Form,
    Request,
    Response,
    UploadFile,
    WebSocket,
)
from fastapi.responses import FileResponse, JSONResponse

from kefu.channels.webchat import messages, service, sockets, tasks
from kefu.channels.webchat.adapter import ADAPTER
from kefu.channels.webchat.hub import ChatHub
from kefu.channels.webchat.strings import widget_strings
from kefu.db import add_emit_hook
from kefu.kit.errors import DomainError, NotFound
from kefu.kit.files import path_for, store
from kefu.kit.http import problem_response
from kefu.runtime import Runtime
from kefu.security.deps import RuntimeDep, require
from kefu.security.permissions import Action, Principal
from kefu.tickets import conversation

router = APIRouter(tags=["webchat"])
WIDGET = Path(__file__).parent / "static" / "widget.js"
UPLOAD_PATH = "/api/v1/webchat/uploads"
# The widget runs on the company's site (another origin) and authenticates uploads with
# its conversation token, not cookies, so any origin may read the answer.
CORS = {"Access-Control-Allow-Origin": "*"}
Agent = Annotated[Principal, Depends(require(Action.ticket_write))]


def hub_of(conn: Request | WebSocket) -> ChatHub:
    hub: ChatHub = conn.app.state.webchat
    return hub


@lru_cache(maxsize=1)
def widget_bundle() -> tuple[bytes, str]:
    """The widget with every language's strings compiled in, and its ETag."""
    source = WIDGET.read_text(encoding="utf-8")
    bundle = source.replace("__KEFU_STRINGS__", orjson.dumps(widget_strings()).decode())
    body = bundle.encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


@router.get("/widget.js", include_in_schema=False)
async def widget(request: Request) -> Response:
    """The embeddable widget: ``<script src=".../widget.js" data-channel="ID" async>``."""
    body, etag = widget_bundle()
    headers = {"ETag": etag, "Cache-Control": "public, max-age=300", **CORS}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


@router.websocket("/api/v1/webchat/ws")
async def visitor_socket(ws: WebSocket) -> None:
    """The widget's socket (protocol: docs/channels/webchat.md)."""
    await sockets.visitor(ws, hub_of(ws))


@router.websocket("/api/v1/webchat/agent")
async def agent_socket(ws: WebSocket, scope: str = "teams") -> None:
    """Agents' live chat feed: messages, typing and receipts of the chats they follow."""
    await sockets.agent(ws, hub_of(ws), scope)


@router.post(UPLOAD_PATH, status_code=201)
async def upload(
    request: Request,
    token: Annotated[str, Form(max_length=128)],
    file: Annotated[UploadFile, File()],
) -> JSONResponse:
    """A visitor's file, sent before the message that names it (``uploads: [id]``)."""
    runtime: Runtime = request.app.state.runtime
    try:
        limit = await _upload_limit(request, token)
        stored = await anyio.to_thread.run_sync(
            store, runtime.settings.attachments_dir, file.file, file.content_type or "", limit
        )
        name = (file.filename or "file").replace("/", "_").replace("\\", "_")[-255:]
        made = await runtime.db.write(
            service.record_upload, token, name, stored.content_type, stored.size, stored.sha256
        )
    except DomainError as exc:
        errors = [e.as_dict() for e in exc.errors] or None
        response = problem_response(exc.status, exc.title, exc.detail, errors=errors)
        response.headers.update(CORS)
        return response
    return JSONResponse(made, 201, headers=CORS)


async def _upload_limit(request: Request, token: str) -> int:
    runtime: Runtime = request.app.state.runtime
    account_id = await runtime.db.read(service.account_of_token, token)
    options = await hub_of(request).options(str(account_id))
    if options is None:
        raise NotFound("Web chat", account_id)
    return options.max_upload_bytes


@router.get("/api/v1/webchat/files/{conversation_id}/{attachment_id}/{signature}")
async def download(
    conversation_id: str, attachment_id: int, signature: str, request: Request
) -> FileResponse:
    """A file of the conversation; the link is signed for that conversation."""
    hub = hub_of(request)
    expected = hub.file_signature(conversation_id, attachment_id)
    if not hmac.compare_digest(expected, signature):
        raise NotFound("File", attachment_id)
    a = await hub.runtime.db.read(conversation.attachment_for_download, None, attachment_id)
    inline = a.content_type.startswith("image/")
    return FileResponse(
        path_for(hub.runtime.settings.attachments_dir, a.sha256),
        media_type=a.content_type,
        filename=a.filename,
        content_disposition_type="inline" if inline else "attachment",
        headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"},
    )


@router.post("/api/v1/webchat/tickets/{ticket_id}/read")
async def mark_read(ticket_id: int, principal: Agent, runtime: RuntimeDep) -> dict[str, Any]:
    """The agent read the ticket's chat: the visitor's messages show "read" in the widget."""
    marked = await runtime.db.write(service.agent_read, principal, ticket_id)
    return {"ticket_id": ticket_id, "marked": marked}


def install(app: FastAPI, runtime: Runtime) -> ChatHub:
    """Routes, the process's hub (the adapter sends through it) and the transcript task."""
    hub = ChatHub(runtime)
    app.state.webchat = hub
    add_emit_hook(messages.number_on_write)
    ADAPTER.hub = hub
    app.include_router(router)
    tasks.register()
    return hub
