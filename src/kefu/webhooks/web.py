"""Console pages of outbound webhooks (admins): endpoints with their event types, signing
secret and SSRF permission, and the delivery log with its retry button."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from kefu.rules.web import page
from kefu.security.deps import RuntimeDep
from kefu.security.permissions import Action, Principal
from kefu.web import forms
from kefu.web.auth import allowed
from kefu.webhooks import service
from kefu.webhooks.delivery import secret_box
from kefu.webhooks.schemas import EndpointIn

router = APIRouter(prefix="/admin/webhooks", include_in_schema=False)
Admin = Annotated[Principal, Depends(allowed(Action.webhook_admin))]
STATUSES = ("queued", "retrying", "delivered", "dead")


def _form(form: FormData) -> EndpointIn:
    patterns = forms.split_list(forms.text(form, "patterns"))
    data: dict[str, Any] = {
        "name": forms.text(form, "name") or "",
        "url": forms.text(form, "url") or "",
        "description": forms.text(form, "description") or "",
        "event_types": [*forms.texts(form, "event_types"), *patterns],
        "active": forms.checked(form, "active"),
        "allow_private": forms.checked(form, "allow_private"),
        "max_attempts": forms.optional_int(form, "max_attempts") or 10,
    }
    return forms.parse(EndpointIn, data)


@router.get("")
async def endpoints(request: Request, me: Admin, runtime: RuntimeDep) -> HTMLResponse:
    found = await runtime.db.read(service.list_endpoints, secret_box(runtime))
    return page(
        request,
        me,
        "webhooks",
        "webhooks/list.html",
        endpoints=found.items,
        events=service.CATALOGUE,
        endpoint=None,
    )


@router.post("")
async def create(request: Request, me: Admin, runtime: RuntimeDep) -> Response:
    data = _form(await request.form())
    made = await runtime.db.write(service.create_endpoint, me, secret_box(runtime), data)
    return forms.redirect(f"/admin/webhooks/{made.id}", "created", htmx=forms.is_htmx(request))


@router.get("/deliveries")
async def deliveries(
    request: Request,
    me: Admin,
    runtime: RuntimeDep,
    endpoint_id: int | None = None,
    status: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    log = await runtime.db.read(service.list_deliveries, endpoint_id, status or None, cursor)
    found = await runtime.db.read(service.list_endpoints, secret_box(runtime))
    return page(
        request,
        me,
        "webhooks",
        "webhooks/deliveries.html",
        log=log,
        endpoints=found.items,
        endpoint_id=endpoint_id,
        status=status or "",
        statuses=STATUSES,
    )


@router.post("/deliveries/{delivery_id}/retry")
async def retry(request: Request, me: Admin, runtime: RuntimeDep, delivery_id: int) -> Response:
    await runtime.db.write(service.retry_delivery, me, delivery_id)
    back = request.headers.get("hx-current-url") or "/admin/webhooks/deliveries"
    return forms.redirect(back, "saved", htmx=forms.is_htmx(request))


@router.get("/{endpoint_id}")
async def endpoint(
    request: Request, me: Admin, runtime: RuntimeDep, endpoint_id: int
) -> HTMLResponse:
    found = await runtime.db.read(service.get_endpoint, secret_box(runtime), endpoint_id)
    log = await runtime.db.read(service.list_deliveries, endpoint_id, None, None, 20)
    return page(
        request,
        me,
        "webhooks",
        "webhooks/endpoint.html",
        endpoint=found,
        events=service.CATALOGUE,
        log=log,
    )


@router.post("/{endpoint_id}")
async def update(request: Request, me: Admin, runtime: RuntimeDep, endpoint_id: int) -> Response:
    data = _form(await request.form())
    await runtime.db.write(service.update_endpoint, me, secret_box(runtime), endpoint_id, data)
    return forms.redirect(f"/admin/webhooks/{endpoint_id}", "saved", htmx=forms.is_htmx(request))


@router.post("/{endpoint_id}/rotate")
async def rotate(request: Request, me: Admin, runtime: RuntimeDep, endpoint_id: int) -> Response:
    await runtime.db.write(service.rotate_secret, me, secret_box(runtime), endpoint_id)
    return forms.redirect(f"/admin/webhooks/{endpoint_id}", "saved", htmx=forms.is_htmx(request))


@router.post("/{endpoint_id}/test")
async def test(request: Request, me: Admin, runtime: RuntimeDep, endpoint_id: int) -> Response:
    await runtime.db.write(service.send_test, me, endpoint_id)
    return forms.redirect(f"/admin/webhooks/{endpoint_id}", "saved", htmx=forms.is_htmx(request))


@router.post("/{endpoint_id}/delete")
async def delete(request: Request, me: Admin, runtime: RuntimeDep, endpoint_id: int) -> Response:
    await runtime.db.write(service.delete_endpoint, me, endpoint_id)
    return forms.redirect("/admin/webhooks", "deleted", htmx=forms.is_htmx(request))
