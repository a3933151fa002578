"""The form page, its embed script, and the endpoint a submission is posted to."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import anyio
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from kefu.channels import delivery
from kefu.channels import service as channels
from kefu.channels.webform import service
from kefu.channels.webform.strings import page_strings
from kefu.kit.errors import DomainError, FieldError
from kefu.kit.files import StoredFile, store
from kefu.kit.ratelimit import RateLimiter
from kefu.runtime import Runtime
from kefu.security.deps import RuntimeDep
from kefu.web.i18n import from_accept_language, supported

log = logging.getLogger(__name__)
router = APIRouter(tags=["webform"])
HERE = Path(__file__).parent
PAGES = Environment(loader=FileSystemLoader(HERE), autoescape=select_autoescape(["html"]))
SUBMIT_PREFIX = "/api/v1/forms"


def _language(request: Request, runtime: RuntimeDep) -> str:
    asked = request.query_params.get("lang")
    if asked:
        return supported(asked.replace("-", "_"))
    header = request.headers.get("accept-language")
    return from_accept_language(header, runtime.settings.default_language)


@router.get("/forms/embed.js", include_in_schema=False)
async def embed_script() -> Response:
    """``<script src="https://kefu.example.com/forms/embed.js" data-form="3" async>``: the
    form in an iframe that grows with its content."""
    return Response(
        (HERE / "embed.js").read_bytes(),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/forms/{account_id}", response_class=HTMLResponse, include_in_schema=False)
async def form_page(account_id: int, request: Request, runtime: RuntimeDep) -> HTMLResponse:
    view = await runtime.db.read(service.form_view, delivery.secret_box(runtime), account_id)
    language = _language(request, runtime)
    text = page_strings(language)
    html = PAGES.get_template("form.html").render(
        view=view,
        text=text,
        title=view.title or text["title"],
        intro=view.intro or text["intro"],
        language=language.replace("_", "-"),
        action=f"{SUBMIT_PREFIX}/{account_id}?lang={language}",
        max_files=service.MAX_FILES,
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.post(f"{SUBMIT_PREFIX}/{{account_id}}", status_code=201)
async def submit(
    account_id: int,
    request: Request,
    runtime: RuntimeDep,
    name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    subject: Annotated[str, Form()] = "",
    message: Annotated[str, Form()] = "",
    team_id: Annotated[str, Form()] = "",
    website: Annotated[str, Form(description="Honeypot: people leave it empty")] = "",
    attachments: Annotated[list[UploadFile] | None, File()] = None,
) -> JSONResponse:
    """Open a ticket from the form. Over the client's rate limit: 429 with Retry-After;
    invalid fields: 422 naming each one; a file too large or of a refused type: 413/415."""
    view = await runtime.db.read(service.form_view, delivery.secret_box(runtime), account_id)
    _limiter(request, view).hit(request.client.host if request.client else "?", "submissions")
    files = [f for f in attachments or [] if f.filename]
    if website.strip():  # a bot filled the hidden field: it is told nothing is wrong
        log.info("web form %s: honeypot filled, submission dropped", account_id)
        return JSONResponse({"status": "received"}, status_code=202)
    fields = {"name": name, "email": email, "subject": subject, "message": message}
    submission = service.check_submission(view, {**fields, "team_id": team_id}, len(files))
    stored = [(_filename(f), await _store(runtime, f, i)) for i, f in enumerate(files)]
    result = await runtime.db.write(
        channels.ingest, view.account, "webform", "ticket", service.inbound(submission), stored
    )
    thanks = page_strings(_language(request, runtime))["thanks"]
    text = thanks.format(id=result.ticket_id, email=submission.email)
    return JSONResponse({"ticket_id": result.ticket_id, "message": text}, status_code=201)


def _limiter(request: Request, view: service.FormView) -> RateLimiter:
    """One limiter per form and setting, kept with the app (so per process)."""
    limiters: dict[tuple[int, int, float], RateLimiter] = getattr(
        request.app.state, "webform_limiters", {}
    )
    request.app.state.webform_limiters = limiters
    key = (view.account.id, view.rate_limit, view.rate_window_s)
    if key not in limiters:
        limiters[key] = RateLimiter(view.rate_limit, view.rate_window_s)
    return limiters[key]


def _filename(upload: UploadFile) -> str:
    return (upload.filename or "file").replace("/", "_").replace("\\", "_")[-255:]


async def _store(runtime: Runtime, upload: UploadFile, index: int) -> StoredFile:
    settings = runtime.settings
    try:
        return await anyio.to_thread.run_sync(
            store,
            settings.attachments_dir,
            upload.file,
            upload.content_type or "application/octet-stream",
            settings.max_attachment_bytes,
        )
    except DomainError as exc:
        exc.errors = [FieldError(["body", "attachments", index], exc.detail)]
        raise
