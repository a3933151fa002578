"""The customer's survey page (public: the random token in its address is the only
credential, so there is no session and no CSRF token to check) and the latest rating on
the ticket's side panel (the ``ticket_side`` slot of ``web/slots.py``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse

from kefu.db import Ctx
from kefu.kit.errors import Invalid, NotFound, TooManyRequests
from kefu.kit.ratelimit import RateLimiter
from kefu.security.deps import RuntimeDep
from kefu.security.permissions import Principal
from kefu.surveys import service
from kefu.surveys.models import COMMENT_MAX
from kefu.surveys.schemas import SurveyPage, SurveyRead
from kefu.web import slots
from kefu.web.i18n import from_accept_language
from kefu.web.render import render_text

router = APIRouter(include_in_schema=False)
PAGE = "surveys/page.html"
SIDE_TEMPLATE = "surveys/_side.html"
# Answers per client address: plenty for people, little for a script guessing tokens.
RATE_LIMIT, RATE_WINDOW_S = 20, 600.0
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def install(app: FastAPI) -> None:
    app.include_router(router)
    slots.register("ticket_side", SIDE_TEMPLATE, load=side_ratings)


def side_ratings(ctx: Ctx, me: Principal, ticket_ids: list[int]) -> dict[int, SurveyRead]:
    return service.latest_ratings(ctx, ticket_ids)


def _language(request: Request, runtime: RuntimeDep, view: SurveyPage | None) -> str:
    if view is not None and view.language:
        return view.language
    header = request.headers.get("accept-language")
    return from_accept_language(header, runtime.settings.default_language)


def _page(
    request: Request,
    runtime: RuntimeDep,
    view: SurveyPage | None,
    state: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> HTMLResponse:
    language = _language(request, runtime, view)
    context = {
        "view": view,
        "state": state,  # form, thanks, missing, busy
        "html_lang": language.replace("_", "-"),
        "comment_max": COMMENT_MAX,
        "errors": {},
        "chosen": view.rating if view else None,
        "comment": (view.comment if view else None) or "",
        **extra,
    }
    html = render_text(request, language, runtime.settings.default_time_zone, PAGE, context)
    return HTMLResponse(html, status, headers={**HEADERS, **(headers or {})})


@router.get("/survey/{token}", response_class=HTMLResponse)
async def survey_page(token: str, request: Request, runtime: RuntimeDep) -> HTMLResponse:
    try:
        view = await runtime.db.read(service.survey_page, token)
    except NotFound:
        return _page(request, runtime, None, "missing", 404)
    return _page(request, runtime, view, "form")


@router.post("/survey/{token}", response_class=HTMLResponse)
async def answer(
    token: str,
    request: Request,
    runtime: RuntimeDep,
    rating: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """A plain form post: the thank-you page, the form again with what is wrong (422), a
    page saying the link is unknown (404), or one asking to wait (429, Retry-After)."""
    try:
        _limiter(request).hit(request.client.host if request.client else "?", "answers")
    except TooManyRequests as exc:
        retry = {"Retry-After": str(exc.retry_after_s)}
        return _page(request, runtime, None, "busy", 429, retry)
    try:
        view = await runtime.db.read(service.survey_page, token)
    except NotFound:
        return _page(request, runtime, None, "missing", 404)
    try:
        await runtime.db.write(service.rate, token, rating, comment)
    except Invalid as exc:
        errors = {str(e.loc[-1]): e.msg for e in exc.errors}
        chosen = int(rating) if rating.isdigit() else None
        return _page(
            request, runtime, view, "form", 422, errors=errors, chosen=chosen, comment=comment
        )
    except NotFound:
        return _page(request, runtime, None, "missing", 404)
    return _page(request, runtime, view, "thanks")


def _limiter(request: Request) -> RateLimiter:
    """One limiter kept with the app (so per process), like the web form's."""
    limiter: RateLimiter | None = getattr(request.app.state, "survey_limiter", None)
    if limiter is None:
        limiter = request.app.state.survey_limiter = RateLimiter(RATE_LIMIT, RATE_WINDOW_S)
    return limiter
