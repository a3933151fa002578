"""HTTP plumbing shared by every API: problem-details errors (RFC 9457), body limits, ETags."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kefu.kit.errors import DomainError, TooManyRequests, invalid, problem

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


def problem_response(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": str(extra.pop("retry_after"))} if "retry_after" in extra else None
    return JSONResponse(
        problem(status, title, detail, **extra), status, headers=headers, media_type=PROBLEM_JSON
    )


def _loc(loc: tuple[Any, ...] | list[Any]) -> list[Any]:
    return [p for p in loc if p not in ("function-after[_normalise()]",)]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        errors = [e.as_dict() for e in exc.errors] or None
        extra: dict[str, Any] = {"errors": errors}
        if isinstance(exc, TooManyRequests):
            extra["retry_after"] = exc.retry_after_s
        return problem_response(exc.status, exc.title, exc.detail, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": _loc(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        status = 400 if any(e["type"] == "json_invalid" for e in errors) else 422
        title = "Malformed JSON" if status == 400 else "Validation failed"
        return problem_response(status, title, detail, errors=errors)

    @app.exception_handler(StaleDataError)
    async def _stale(_: Request, exc: StaleDataError) -> JSONResponse:
        return problem_response(
            409,
            "Conflict",
            "Someone else changed this record at the same time; reload and try again",
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed", 413: "Payload too large"}.get(
            exc.status_code, "Error"
        )
        return problem_response(exc.status_code, title, str(exc.detail))

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(_: Request, exc: Exception) -> JSONResponse:
        # A number the database cannot hold (a 2**70 id, say): the client's input, not ours.
        log.info("value out of range: %s", exc)
        return problem_response(
            422, "Validation failed", "A number in the request is too large for kefu to store"
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem_response(
            500, "Internal error", "kefu failed to handle this request; it was logged"
        )


class BodyLimit:
    """Refuse request bodies over the limit with 413 before they are read into memory.
    Upload paths get the (larger) attachment limit."""

    def __init__(
        self, app: ASGIApp, limit: int, upload_limit: int, upload_prefixes: tuple[str, ...]
    ) -> None:
        self.app, self.limit, self.upload_limit = app, limit, upload_limit
        self.upload_prefixes = upload_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.upload_limit if path.startswith(self.upload_prefixes) else self.limit
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _BodyTooLarge:
            await _too_large(send, limit)


class _BodyTooLarge(HTTPException):
    """Raised while the body streams in. An HTTPException, so FastAPI passes it on as it is
    rather than calling it a body it could not parse (400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body exceeds {limit} bytes")


async def _too_large(send: Send, limit: int) -> None:
    response = problem_response(413, "Payload too large", f"The request body exceeds {limit} bytes")
    await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


# Ids are 64-bit in both engines; a larger number in a path is bad input, not a server error.
MAX_ID = 2**63 - 1
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


def parse_if_match(value: str | None) -> int | None:
    """``If-Match: W/"3"`` (or ``"3"``) names the version the client edited."""
    if value is None:
        return None
    cleaned = value.strip().removeprefix("W/").strip('"')
    if not cleaned.isdigit():
        raise invalid(["header", "If-Match"], 'must be the ETag you read, such as W/"3"')
    return int(cleaned)


def etag(version: int) -> str:
    return f'W/"{version}"'
