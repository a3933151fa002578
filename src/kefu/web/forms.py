"""Reading HTML forms: into the same Pydantic models the API uses, with the same errors."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from kefu.kit.errors import FieldError, Invalid
from kefu.web.i18n import N_

M = TypeVar("M", bound=BaseModel)
FLASH_COOKIE = "kefu_flash"

# Messages shown once after a redirect; the cookie names one, so nothing else can be shown.
FLASHES = {
    "saved": N_("Saved."),
    "created": N_("Created."),
    "deleted": N_("Deleted."),
    "password_changed": N_("Password changed. Your other sessions were signed out."),
    "token_revoked": N_("The token was revoked."),
    "merged": N_("The customers were merged."),
    "signed_out": N_("You signed out."),
}


def parse(model: type[M], data: dict[str, Any]) -> M:
    """Validate form values with a schema; errors come back as 422 with their fields."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            FieldError(["body", *[p for p in e["loc"] if isinstance(p, str | int)]], e["msg"])
            for e in exc.errors()
        ]
        raise Invalid(errors) from exc


def text(form: FormData, name: str) -> str | None:
    """A text field, stripped; empty means not given."""
    value = form.get(name)
    if not isinstance(value, str):
        return None
    return value.strip() or None


def texts(form: FormData, name: str) -> list[str]:
    return [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()]


def ints(form: FormData, name: str) -> list[int]:
    return [int(v) for v in texts(form, name) if v.isdigit()]


def optional_int(form: FormData, name: str) -> int | None:
    value = text(form, name)
    return int(value) if value is not None and value.isdigit() else None


def checked(form: FormData, name: str) -> bool:
    return form.get(name) in ("on", "true", "1")


def split_list(value: str | None) -> list[str]:
    """``"a, b ,c"`` → ``["a", "b", "c"]``; also splits on Chinese commas and newlines."""
    if not value:
        return []
    for sep in ("，", "\n", "、"):
        value = value.replace(sep, ",")
    return [v.strip() for v in value.split(",") if v.strip()]


def redirect(url: str, flash: str | None = None, *, htmx: bool = False) -> Response:
    """See other (303), or ``HX-Redirect`` for an HTMX request, with a one-time message."""
    response: Response
    if htmx:
        response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    if flash is not None and flash in FLASHES:
        response.set_cookie(FLASH_COOKIE, flash, max_age=60, httponly=True, samesite="lax")
    return response


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def pop_flash(request: Request) -> str | None:
    key = request.cookies.get(FLASH_COOKIE)
    return FLASHES.get(key) if key else None
