"""One way to answer a page request: the whole page, or only its partial for HTMX.

``render(request, "tickets/inbox.html", {...}, partial="tickets/_list.html")`` answers the
full page to a normal request and the partial to an HTMX request (``HX-Request`` without
``HX-Boosted``), after NetBox's ``utilities/htmx.py``. Every template sees the reader's
translations (``_``/``ngettext``), a ``fmt`` for their dates and time zone, and ``me``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.support import Translations
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from kefu.kit.time import utcnow
from kefu.kit.validators import LANGUAGES
from kefu.runtime import get_runtime
from kefu.security.permissions import Action, Principal
from kefu.web import slots
from kefu.web.forms import FLASH_COOKIE, pop_flash
from kefu.web.i18n import LANGUAGE_NAMES, Formatter, from_accept_language, translations
from kefu.web.labels import LABELS, PRIORITY_ORDER, STATUS_ORDER

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@lru_cache(maxsize=256)
def asset(path: str) -> str:
    """A static file's URL with a content hash, so browsers may cache it for good."""
    file = STATIC / path
    version = hashlib.sha256(file.read_bytes()).hexdigest()[:10] if file.exists() else "0"
    return f"/static/{path}?v={version}"


def _labeller(catalogue: Translations) -> Callable[[str, Any], str]:
    def label(kind: str, value: Any) -> str:
        if value is None:
            return ""
        name = LABELS.get(kind, {}).get(str(value))
        if isinstance(name, tuple):
            return str(catalogue.pgettext(*name))
        return catalogue.gettext(name) if name else str(value)

    return label


def _field_label(language: str) -> Callable[[Any], str]:
    """A custom field's label (or an option's) in the reader's language, when given."""

    def field_label(definition: Any, option: str | None = None) -> str:
        extra = definition.translations or {}
        if option is not None:
            return str(extra.get("options", {}).get(language, {}).get(option, option))
        return str(extra.get(language) or definition.label)

    return field_label


@lru_cache(maxsize=len(LANGUAGES))
def environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates ship inside the package; checking their files on every include costs a
        # stat per row of a list. A restart picks up a change.
        auto_reload=False,
    )
    catalogue = translations(language)
    env.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        asset=asset,
        label=_labeller(catalogue),
        field_label=_field_label(language),
        LANGUAGE_NAMES=LANGUAGE_NAMES,
        STATUS_ORDER=STATUS_ORDER,
        PRIORITY_ORDER=PRIORITY_ORDER,
        Action=Action,
        slots=slots.SLOTS,
    )
    return env


def is_partial(request: Request) -> bool:
    headers = request.headers
    return (
        headers.get("hx-request") == "true"
        and headers.get("hx-boosted") != "true"
        and headers.get("hx-history-restore-request") != "true"
    )


def reader_locale(request: Request, me: Principal | None) -> tuple[str, str]:
    """(language, time zone) of whoever reads the page."""
    if me is not None:
        return me.language, me.time_zone
    settings = get_runtime(request).settings
    web = getattr(request.app.state, "web", None)
    org = web.organisation if web is not None else None
    default = org.default_language if org is not None else settings.default_language
    zone = org.default_time_zone if org is not None else settings.default_time_zone
    return from_accept_language(request.headers.get("accept-language"), default), zone


def gettext_for(request: Request, me: Principal | None) -> Callable[..., str]:
    """``gettext`` in the reader's language, for messages built in Python."""
    return translations(reader_locale(request, me)[0]).gettext


def ngettext_for(request: Request, me: Principal | None) -> Callable[..., str]:
    return translations(reader_locale(request, me)[0]).ngettext


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    partial: str | None = None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    me: Principal | None = context.get("me")
    language, time_zone = reader_locale(request, me)
    name = partial if partial is not None and is_partial(request) else template
    flash = pop_flash(request)
    if flash is not None and "flash" not in context:
        context = {**context, "flash": flash}
    html = render_text(request, language, time_zone, name, context)
    response = HTMLResponse(html, status, headers=dict(headers or {}))
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE)
    return response


def render_text(
    request: Request | None,
    language: str,
    time_zone: str,
    template: str,
    context: Mapping[str, Any],
) -> str:
    env = environment(language)
    base = base_context(request, language, time_zone)
    return env.get_template(template).render({**base, **context})


def base_context(request: Request | None, language: str, time_zone: str) -> dict[str, Any]:
    runtime = get_runtime(request) if request is not None else None
    now = runtime.clock.now() if runtime is not None else utcnow()
    web = getattr(request.app.state, "web", None) if request is not None else None
    return {
        "request": request,
        "me": None,
        "language": language,
        "fmt": Formatter(language, time_zone, now),
        "org": web.organisation if web is not None else None,
        "flash": None,
        "section": None,
    }
