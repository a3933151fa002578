"""HTML routes that save, change and delete inbox views (the inbox shows them)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from kefu.security.deps import RuntimeDep
from kefu.security.permissions import Action, Principal
from kefu.views import service as views
from kefu.views.schemas import SavedViewCreate, SavedViewUpdate
from kefu.web import forms
from kefu.web.auth import allowed

router = APIRouter(include_in_schema=False)
Owner = Annotated[Principal, Depends(allowed(Action.view_write))]


def filters_of(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": forms.texts(form, "status"),
        "priority": forms.texts(form, "priority"),
        "assignee": forms.text(form, "assignee"),
        "team_id": forms.optional_int(form, "team_id"),
        "tag": forms.text(form, "tag"),
        "channel": forms.text(form, "channel"),
        "q": forms.text(form, "q"),
    }
    return {k: v for k, v in values.items() if v not in (None, [])}


@router.post("/views")
async def create_view(request: Request, me: Owner, runtime: RuntimeDep) -> Response:
    form = await request.form()
    data = {
        "name": forms.text(form, "name") or "",
        "shared": forms.checked(form, "shared"),
        "filters": filters_of(form),
        "sort": forms.text(form, "sort") or "-updated_at",
    }
    view = await runtime.db.write(views.create_view, me, forms.parse(SavedViewCreate, data))
    return forms.redirect(f"/inbox?view=v{view.id}", "created", htmx=forms.is_htmx(request))


@router.post("/views/{view_id}")
async def update_view(request: Request, me: Owner, runtime: RuntimeDep, view_id: int) -> Response:
    form = await request.form()
    data: dict[str, Any] = {
        "name": forms.text(form, "name"),
        "shared": forms.checked(form, "shared"),
    }
    if forms.checked(form, "replace_filters"):
        data["filters"] = filters_of(form)
        data["sort"] = forms.text(form, "sort")
    changes = forms.parse(SavedViewUpdate, {k: v for k, v in data.items() if v is not None})
    await runtime.db.write(views.update_view, me, view_id, changes)
    return forms.redirect(f"/inbox?view=v{view_id}", "saved", htmx=forms.is_htmx(request))


@router.post("/views/{view_id}/delete")
async def delete_view(request: Request, me: Owner, runtime: RuntimeDep, view_id: int) -> Response:
    await runtime.db.write(views.delete_view, me, view_id)
    return forms.redirect("/inbox", "deleted", htmx=forms.is_htmx(request))
