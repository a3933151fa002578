"""FastAPI dependencies: who is calling (token or session cookie), and may they do this."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from kefu.accounts import service as accounts
from kefu.kit.crypto import constant_time_equal, digest
from kefu.kit.errors import Forbidden, Unauthorized
from kefu.runtime import Runtime, get_runtime
from kefu.security.permissions import Action, Principal

SESSION_COOKIE = "kefu_session"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_TOUCH_EVERY_S = 3600.0


async def _from_token(runtime: Runtime, raw: str) -> Principal:
    cache = runtime.principals
    key = "t:" + digest(raw)
    principal = cache.get(key)
    if principal is not None:
        return principal
    check = await runtime.db.read(accounts.check_token, raw)
    last = check.last_used_at
    if last is None or (runtime.clock.now() - last).total_seconds() > _TOUCH_EVERY_S:
        await runtime.db.write(accounts.touch_token, check.token_id)
    cache.put(key, check.principal)
    return check.principal


async def _from_session(runtime: Runtime, raw: str) -> Principal:
    cache = runtime.principals
    key = "s:" + digest(raw)
    principal = cache.get(key)
    if principal is None:
        principal = await runtime.db.read(accounts.check_session, raw)
        cache.put(key, principal)
    return principal


async def _check_csrf(request: Request, principal: Principal) -> None:
    if request.method in _SAFE_METHODS or principal.csrf_token is None:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and "form" in request.headers.get("content-type", ""):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not constant_time_equal(sent, principal.csrf_token):
        raise Forbidden(
            "The form is stale or forged (CSRF token missing or wrong); reload the page"
        )


async def runtime_of(request: Request) -> Runtime:
    """``get_runtime`` as an async dependency: FastAPI runs a plain ``def`` dependency on a
    worker thread, which cost every request two thread hops."""
    return get_runtime(request)


async def optional_principal(
    request: Request, runtime: Annotated[Runtime, Depends(runtime_of)]
) -> Principal | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, raw = auth.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise Unauthorized("Use 'Authorization: Bearer <token>'")
        return await _from_token(runtime, raw.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        principal = await _from_session(runtime, cookie)
        await _check_csrf(request, principal)
        return principal
    return None


async def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise Unauthorized()
    return principal


def require(action: Action) -> Callable[..., Awaitable[Principal]]:
    """A dependency that answers 401/403 unless the caller may perform ``action``. One
    dependency on the request rather than a chain of three (``current_principal`` →
    ``optional_principal`` → ``runtime_of``): FastAPI's work per dependency (solving, cache
    keys) was about a tenth of the CPU of a small API request."""

    async def dependency(request: Request) -> Principal:
        principal = await optional_principal(request, get_runtime(request))
        if principal is None:
            raise Unauthorized()
        principal.check(action)
        return principal

    dependency.__name__ = f"require_{action.name}"
    return dependency


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
RuntimeDep = Annotated[Runtime, Depends(runtime_of)]
