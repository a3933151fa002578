"""HTML routes of signing in and out and of the user's own profile (language, time zone,
password, personal API tokens)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kefu.accounts import second_factor
from kefu.accounts import service as accounts
from kefu.accounts.api import set_session_cookie
from kefu.accounts.schemas import TokenCreate, TokenCreated, UserUpdate
from kefu.kit.errors import FieldError, Invalid, TooManyRequests
from kefu.runtime import Runtime
from kefu.security.deps import SESSION_COOKIE, RuntimeDep
from kefu.security.permissions import SCOPES, Action, Principal
from kefu.web import forms
from kefu.web.auth import Reader, WebUser, allowed, safe_next
from kefu.web.i18n import N_, time_zones
from kefu.web.render import gettext_for, ngettext_for, render

router = APIRouter(include_in_schema=False)
TokenOwner = Annotated[Principal, Depends(allowed(Action.token_own))]
Self = Annotated[Principal, Depends(allowed(Action.profile_own))]
PENDING_COOKIE = "kefu_pending"
SCOPE_LABELS = {
    "tickets:read": N_("Read tickets, messages and their history"),
    "tickets:write": N_("Create and change tickets and messages"),
    "customers:read": N_("Read customers and companies"),
    "customers:write": N_("Create, change and merge customers and companies"),
    "admin:read": N_("Read users, teams and field definitions"),
    "admin:write": N_("Manage users, teams, field definitions and tokens"),
}


# -- signing in --------------------------------------------------------------------------
@router.get("/login")
async def login_page(request: Request, me: Reader, next: str = "/inbox") -> Response:
    if me is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_form(request, safe_next(next))


def _login_form(
    request: Request, next_url: str, error: str | None = None, email: str = "", status: int = 200
) -> HTMLResponse:
    context = {"next": next_url, "error": error, "email": email}
    return render(request, "accounts/login.html", context, status=status)


@router.post("/login")
async def login(request: Request, runtime: RuntimeDep) -> Response:
    form = await request.form()
    email, password = forms.text(form, "email") or "", str(form.get("password") or "")
    next_url = safe_next(forms.text(form, "next"))
    gettext = gettext_for(request, None)
    try:
        user_id = await runtime.db.read(accounts.check_password, email, password)
    except TooManyRequests as exc:
        minutes = max(1, round(exc.retry_after_s / 60))
        ngettext = ngettext_for(request, None)
        error = ngettext(
            "Too many failed sign-ins. Try again in %(num)d minute.",
            "Too many failed sign-ins. Try again in %(num)d minutes.",
            minutes,
        ) % {"num": minutes}
        return _login_form(request, next_url, error, email, 429)
    if user_id <= 0:
        if user_id < 0:
            await runtime.db.write(accounts.record_failed_login, -user_id)
        return _login_form(
            request, next_url, gettext("The email or password is wrong."), email, 401
        )
    factor = await runtime.db.read(second_factor.factor_for, user_id)
    if factor is not None:
        return _ask_second_factor(runtime, user_id, factor, next_url)
    return await _sign_in(request, runtime, user_id, next_url)


def _ask_second_factor(runtime: Runtime, user_id: int, factor: str, next_url: str) -> Response:
    token = second_factor.pending_token(
        runtime.secret_key, user_id, factor, runtime.clock.now().timestamp()
    )
    response = RedirectResponse(f"/login/verify?next={next_url}", status_code=303)
    response.set_cookie(
        PENDING_COOKIE,
        token,
        max_age=second_factor.PENDING_S,
        httponly=True,
        secure=runtime.settings.secure_cookies,
        samesite="lax",
        path="/login",
    )
    return response


async def _sign_in(request: Request, runtime: Runtime, user_id: int, next_url: str) -> Response:
    ip = request.client.host if request.client else ""
    agent = request.headers.get("user-agent", "")
    raw, _ = await runtime.db.write(accounts.start_session, user_id, ip, agent)
    response = RedirectResponse(next_url, status_code=303)
    set_session_cookie(
        response, raw, runtime.settings.session_hours, runtime.settings.secure_cookies
    )
    response.delete_cookie(PENDING_COOKIE, path="/login")
    return response


def _pending(request: Request, runtime: Runtime) -> tuple[int, str] | None:
    token = request.cookies.get(PENDING_COOKIE) or ""
    return second_factor.read_pending(runtime.secret_key, token, runtime.clock.now().timestamp())


@router.get("/login/verify")
async def second_step_page(request: Request, runtime: RuntimeDep, next: str = "/inbox") -> Response:
    pending = _pending(request, runtime)
    if pending is None or pending[1] not in second_factor.FACTORS:
        return RedirectResponse("/login", status_code=303)
    prompt = second_factor.FACTORS[pending[1]].prompt
    context = {"next": safe_next(next), "prompt": prompt, "error": None}
    return render(request, "accounts/verify.html", context)


@router.post("/login/verify")
async def second_step(request: Request, runtime: RuntimeDep) -> Response:
    form = await request.form()
    next_url = safe_next(forms.text(form, "next"))
    pending = _pending(request, runtime)
    if pending is None:
        return RedirectResponse("/login", status_code=303)
    user_id, factor = pending
    code = forms.text(form, "code") or ""
    if await runtime.db.read(second_factor.verify, factor, user_id, code):
        return await _sign_in(request, runtime, user_id, next_url)
    await runtime.db.write(accounts.record_failed_login, user_id)
    gettext = gettext_for(request, None)
    prompt = second_factor.FACTORS[factor].prompt if factor in second_factor.FACTORS else ""
    context = {"next": next_url, "prompt": prompt, "error": gettext("That code is not right.")}
    return render(request, "accounts/verify.html", context, status=401)


@router.post("/logout")
async def logout(request: Request, me: WebUser, runtime: RuntimeDep) -> Response:
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        await runtime.db.write(accounts.end_session, raw)
        runtime.principals.clear()
    response = forms.redirect("/login", "signed_out", htmx=forms.is_htmx(request))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- profile -----------------------------------------------------------------------------
async def _profile(
    request: Request,
    me: Principal,
    runtime: Runtime,
    created: TokenCreated | None = None,
    status: int = 200,
) -> HTMLResponse:
    user = await runtime.db.read(accounts.get_user, me.user_id)
    tokens = await runtime.db.read(accounts.list_tokens, me.user_id)
    teams = await runtime.db.read(accounts.list_teams)
    context: dict[str, Any] = {
        "me": me,
        "user": user,
        "tokens": tokens,
        "created": created,
        "teams": [t for t in teams if t.id in me.team_ids],
        "zones": time_zones(),
        "scopes": {key: SCOPE_LABELS.get(key, text) for key, text in SCOPES.items()},
        "section": "profile",
    }
    return render(request, "accounts/profile.html", context, status=status)


@router.get("/profile")
async def profile(request: Request, me: Self, runtime: RuntimeDep) -> HTMLResponse:
    return await _profile(request, me, runtime)


@router.post("/profile")
async def save_profile(request: Request, me: Self, runtime: RuntimeDep) -> Response:
    form = await request.form()
    data = {
        "name": forms.text(form, "name"),
        "language": forms.text(form, "language"),
        "time_zone": forms.text(form, "time_zone"),
    }
    changes = forms.parse(UserUpdate, {k: v for k, v in data.items() if v})
    await runtime.db.write(accounts.update_user, me, me.user_id, changes)
    return forms.redirect("/profile", "saved", htmx=forms.is_htmx(request))


@router.post("/profile/language")
async def switch_language(request: Request, me: Self, runtime: RuntimeDep) -> Response:
    """The language menu in the top bar: change and come back to the same page."""
    form = await request.form()
    changes = forms.parse(UserUpdate, {"language": forms.text(form, "language")})
    await runtime.db.write(accounts.update_user, me, me.user_id, changes)
    return forms.redirect(safe_next(forms.text(form, "next")), htmx=forms.is_htmx(request))


@router.post("/profile/password")
async def change_password(request: Request, me: Self, runtime: RuntimeDep) -> Response:
    form = await request.form()
    current, new = str(form.get("current") or ""), str(form.get("new") or "")
    gettext = gettext_for(request, me)
    if await runtime.db.read(accounts.check_password, me.email, current) <= 0:
        raise Invalid([FieldError(["body", "current"], gettext("The current password is wrong."))])
    if new != str(form.get("confirm") or ""):
        raise Invalid([FieldError(["body", "confirm"], gettext("The two new passwords differ."))])
    await runtime.db.write(
        accounts.update_user, me, me.user_id, forms.parse(UserUpdate, {"password": new})
    )
    # Changing the password ends every session; this browser gets a fresh one.
    response = await _sign_in(request, runtime, me.user_id, "/profile")
    response.set_cookie(
        forms.FLASH_COOKIE, "password_changed", max_age=60, httponly=True, samesite="lax"
    )
    return response


@router.post("/profile/tokens")
async def create_token(request: Request, me: TokenOwner, runtime: RuntimeDep) -> Response:
    form = await request.form()
    days = forms.optional_int(form, "expires_days")
    expires = runtime.clock.now() + timedelta(days=days) if days else None
    data = {
        "name": forms.text(form, "name") or "API token",
        "scopes": forms.texts(form, "scopes"),
        "expires_at": expires,
    }
    created = await runtime.db.write(
        accounts.create_token, me.user_id, forms.parse(TokenCreate, data)
    )
    return await _profile(request, me, runtime, created)


@router.post("/profile/tokens/{token_id}/revoke")
async def revoke_token(
    request: Request, me: TokenOwner, runtime: RuntimeDep, token_id: int
) -> Response:
    await runtime.db.write(accounts.revoke_token, me, token_id)
    return forms.redirect("/profile", "token_revoked", htmx=forms.is_htmx(request))
