"""Errors on pages: the sign-in page for strangers, an error page (or, for HTMX requests,
a message in the page's flash area) for the rest. API paths keep problem details."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from kefu.kit.errors import DomainError, FieldError, Forbidden, Unauthorized
from kefu.security.permissions import Principal
from kefu.web.auth import LoginRequired, here, reader
from kefu.web.i18n import N_
from kefu.web.render import is_partial, render
from kefu.web.state import web_state

NOT_PAGES = ("/api/", "/static/", "/openapi.json", "/docs", "/healthz", "/readyz", "/metrics")

HEADLINES = {
    400: N_("The request could not be understood."),
    401: N_("Please sign in."),
    403: N_("You do not have access to this."),
    404: N_("This page does not exist, or you cannot see it."),
    405: N_("This action is not available here."),
    409: N_("Someone else changed this in the meantime."),
    413: N_("That is too large."),
    415: N_("That kind of file is not accepted."),
    422: N_("Please check what you entered."),
    429: N_("Too many attempts; please wait a moment."),
}
STALE_FORM = N_(
    "This page is out of date (you signed in again elsewhere). Reload it and try again."
)


def is_page(request: Request) -> bool:
    return not request.url.path.startswith(NOT_PAGES)


def login_redirect(request: Request, next_url: str) -> Response:
    location = LoginRequired(next_url).location
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


async def error_response(
    request: Request,
    status: int,
    detail: str,
    errors: list[FieldError] | None = None,
    headline: str | None = None,
) -> Response:
    """The error page, or for HTMX a message swapped into ``#flash`` with the same status."""
    me: Principal | None = None
    try:
        me = await reader(request, web_state(request).runtime)
    except Exception:  # the error page must render even if the cause was the session itself
        me = None
    context = {
        "me": me,
        "status": status,
        "headline": headline or HEADLINES.get(status, N_("Something went wrong.")),
        "detail": detail,
        "errors": errors or [],
    }
    if is_partial(request):
        headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
        return render(request, "_error_flash.html", context, status=status, headers=headers)
    return render(request, "error.html", context, status=status)


def _api_handler(
    app: FastAPI, kind: type[Exception]
) -> Callable[[Request, Exception], Awaitable[Response]]:
    """The handler installed before ours, made awaitable whatever it was."""
    handler = app.exception_handlers[kind]

    async def call(request: Request, exc: Exception) -> Response:
        result = handler(request, exc)
        return await result if inspect.isawaitable(result) else result

    return call


def install_error_handlers(app: FastAPI) -> None:
    """Wrap the API's handlers: pages get HTML, everything else what it got before."""
    json_domain = _api_handler(app, DomainError)
    json_validation = _api_handler(app, RequestValidationError)
    json_http = _api_handler(app, StarletteHTTPException)

    async def domain(request: Request, exc: Exception) -> Response:
        if not is_page(request):
            return await json_domain(request, exc)
        assert isinstance(exc, DomainError)
        if isinstance(exc, Unauthorized):
            return login_redirect(request, here(request))
        if isinstance(exc, Forbidden) and "CSRF" in exc.detail:  # security.deps' check
            return await error_response(request, 403, "", headline=STALE_FORM)
        return await error_response(request, exc.status, exc.detail, exc.errors)

    async def validation(request: Request, exc: Exception) -> Response:
        if not is_page(request):
            return await json_validation(request, exc)
        assert isinstance(exc, RequestValidationError)
        errors = [FieldError(list(e.get("loc", ())), e.get("msg", "")) for e in exc.errors()]
        return await error_response(request, 422, "", errors)

    async def http(request: Request, exc: Exception) -> Response:
        if not is_page(request):
            return await json_http(request, exc)
        assert isinstance(exc, StarletteHTTPException)
        return await error_response(request, exc.status_code, "")

    async def login(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return login_redirect(request, exc.next_url)

    app.add_exception_handler(DomainError, domain)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http)
    app.add_exception_handler(LoginRequired, login)
