"""Who is reading a page: pages send strangers to the sign-in page, not a 401."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, Request

from kefu.kit.errors import Unauthorized
from kefu.security.deps import RuntimeDep, optional_principal
from kefu.security.permissions import Action, Principal
from kefu.web.state import web_state


class LoginRequired(Exception):
    """Raised by page dependencies; answered with a redirect to ``/login?next=...``."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url

    @property
    def location(self) -> str:
        return "/login?" + urlencode({"next": self.next_url})


def here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def safe_next(value: str | None) -> str:
    """Only a path on this site: a ``next`` pointing elsewhere would make kefu an open
    redirect for phishing."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/inbox"
    return value


async def reader(request: Request, runtime: RuntimeDep) -> Principal | None:
    """The signed-in user, or None (an ended session counts as none)."""
    await web_state(request).ready()
    try:
        return await optional_principal(request, runtime)
    except Unauthorized:
        return None


async def web_user(
    request: Request, principal: Annotated[Principal | None, Depends(reader)]
) -> Principal:
    if principal is None:
        referer = (
            request.headers.get("hx-current-url") if request.headers.get("hx-request") else None
        )
        raise LoginRequired(_path_of(referer) if referer else here(request))
    return principal


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def allowed(action: Action) -> Callable[..., Awaitable[Principal]]:
    """A page dependency: signed in, and the role may perform ``action`` (else the 403 page)."""

    async def dependency(principal: Annotated[Principal, Depends(web_user)]) -> Principal:
        principal.check(action)
        return principal

    dependency.__name__ = f"page_{action.name}"
    return dependency


WebUser = Annotated[Principal, Depends(web_user)]
Reader = Annotated[Principal | None, Depends(reader)]
