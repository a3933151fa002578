"""The admin console: users and roles, teams, custom fields, tags, canned replies and the
general settings. Admins see every section; supervisors see the ones their role may
change (teams, fields, tags, canned replies); agents get the 403 page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from kefu.accounts import service as accounts
from kefu.accounts.schemas import TeamCreate, TeamUpdate, UserCreate, UserUpdate
from kefu.admin import service as admin
from kefu.admin.schemas import GeneralSettings
from kefu.canned import service as canned
from kefu.canned.schemas import CannedReplyCreate, CannedReplyUpdate
from kefu.fields import service as fields
from kefu.fields.schemas import FieldDefinitionCreate, FieldDefinitionRead, FieldDefinitionUpdate
from kefu.security.deps import RuntimeDep
from kefu.security.permissions import Action, Principal
from kefu.tickets import tags
from kefu.web import forms
from kefu.web.auth import WebUser, allowed
from kefu.web.i18n import LANGUAGE_NAMES, N_, time_zones
from kefu.web.render import render

router = APIRouter(prefix="/admin", include_in_schema=False)
Users = Annotated[Principal, Depends(allowed(Action.user_write))]
Teams = Annotated[Principal, Depends(allowed(Action.team_write))]
Fields = Annotated[Principal, Depends(allowed(Action.field_write))]
Tags = Annotated[Principal, Depends(allowed(Action.tag_write))]
Canned = Annotated[Principal, Depends(allowed(Action.canned_write))]
Settings = Annotated[Principal, Depends(allowed(Action.settings_write))]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    action: Action


SECTIONS = (
    Section("users", N_("Users and roles"), Action.user_write),
    Section("teams", N_("Teams"), Action.team_write),
    Section("fields", N_("Custom fields"), Action.field_write),
    Section("tags", N_("Tags"), Action.tag_write),
    Section("canned", N_("Canned replies"), Action.canned_write),
    Section("rules", N_("Rules"), Action.rule_write),
    Section("macros", N_("Macros"), Action.macro_write),
    Section("webhooks", N_("Webhooks"), Action.webhook_admin),
    Section("settings", N_("General settings"), Action.settings_write),
)


def _page(
    request: Request, me: Principal, section: str, template: str, **context: Any
) -> HTMLResponse:
    sections = [s for s in SECTIONS if me.allows(s.action)]
    base = {"me": me, "sections": sections, "current": section, "section": "admin"}
    return render(request, f"admin/{template}", {**base, **context})


def _done(request: Request, url: str, flash: str = "saved") -> Response:
    return forms.redirect(url, flash, htmx=forms.is_htmx(request))


@router.get("")
async def console(me: WebUser) -> RedirectResponse:
    me.check(Action.admin_console)
    first = next(s for s in SECTIONS if me.allows(s.action))
    return RedirectResponse(f"/admin/{first.key}", status_code=303)


# -- users -------------------------------------------------------------------------------
def _user_form(form: FormData) -> dict[str, Any]:
    return {
        "name": forms.text(form, "name"),
        "role": forms.text(form, "role"),
        "language": forms.text(form, "language"),
        "time_zone": forms.text(form, "time_zone"),
        "team_ids": forms.ints(form, "team_ids"),
        "password": forms.text(form, "password"),
    }


@router.get("/users")
async def users(request: Request, me: Users, runtime: RuntimeDep) -> HTMLResponse:
    people = await runtime.db.read(accounts.list_users)
    teams = await runtime.db.read(accounts.list_teams)
    org = await runtime.db.read(admin.general_settings)
    return _page(
        request,
        me,
        "users",
        "users.html",
        people=people,
        teams=teams,
        defaults=org,
        languages=LANGUAGE_NAMES,
    )


@router.post("/users")
async def create_user(request: Request, me: Users, runtime: RuntimeDep) -> Response:
    form = await request.form()
    data = {k: v for k, v in _user_form(form).items() if v not in (None, [])}
    data["email"] = forms.text(form, "email") or ""
    await runtime.db.write(accounts.create_user, forms.parse(UserCreate, data))
    return _done(request, "/admin/users", "created")


@router.get("/users/{user_id}")
async def user_page(request: Request, me: Users, runtime: RuntimeDep, user_id: int) -> HTMLResponse:
    person = await runtime.db.read(accounts.get_user, user_id)
    teams = await runtime.db.read(accounts.list_teams)
    return _page(
        request, me, "users", "user.html", person=person, teams=teams, languages=LANGUAGE_NAMES
    )


@router.post("/users/{user_id}")
async def update_user(request: Request, me: Users, runtime: RuntimeDep, user_id: int) -> Response:
    form = await request.form()
    data = {k: v for k, v in _user_form(form).items() if v is not None}
    data["is_active"] = forms.checked(form, "is_active")
    await runtime.db.write(accounts.update_user, me, user_id, forms.parse(UserUpdate, data))
    return _done(request, "/admin/users")


# -- teams -------------------------------------------------------------------------------
def _team_form(form: FormData) -> dict[str, Any]:
    return {
        "name": forms.text(form, "name") or "",
        "description": forms.text(form, "description") or "",
        "private": forms.checked(form, "private"),
        "member_ids": forms.ints(form, "member_ids"),
    }


@router.get("/teams")
async def teams(request: Request, me: Teams, runtime: RuntimeDep) -> HTMLResponse:
    all_teams = await runtime.db.read(accounts.list_teams)
    people = await runtime.db.read(accounts.list_users)
    return _page(request, me, "teams", "teams.html", teams=all_teams, people=people)


@router.post("/teams")
async def create_team(request: Request, me: Teams, runtime: RuntimeDep) -> Response:
    data = _team_form(await request.form())
    await runtime.db.write(accounts.create_team, forms.parse(TeamCreate, data))
    return _done(request, "/admin/teams", "created")


@router.get("/teams/{team_id}")
async def team_page(request: Request, me: Teams, runtime: RuntimeDep, team_id: int) -> HTMLResponse:
    team = await runtime.db.read(accounts.get_team, team_id)
    people = await runtime.db.read(accounts.list_users)
    return _page(request, me, "teams", "team.html", team=team, people=people)


@router.post("/teams/{team_id}")
async def update_team(request: Request, me: Teams, runtime: RuntimeDep, team_id: int) -> Response:
    data = _team_form(await request.form())
    await runtime.db.write(accounts.update_team, team_id, forms.parse(TeamUpdate, data))
    return _done(request, "/admin/teams")


@router.post("/teams/{team_id}/delete")
async def delete_team(request: Request, me: Teams, runtime: RuntimeDep, team_id: int) -> Response:
    await runtime.db.write(accounts.delete_team, team_id)
    return _done(request, "/admin/teams", "deleted")


# -- custom fields -----------------------------------------------------------------------
def _options(raw: str | None) -> tuple[list[str], dict[str, str]]:
    """``"gold = 金卡"`` lines → options and their Chinese labels."""
    options: list[str] = []
    labels: dict[str, str] = {}
    for line in (raw or "").splitlines():
        value, _, label = line.partition("=")
        if value.strip():
            options.append(value.strip())
            if label.strip():
                labels[value.strip()] = label.strip()
    return options, labels


def _translations(
    form: FormData, current: dict[str, Any] | None = None
) -> tuple[list[str], dict[str, Any]]:
    options, labels = _options(forms.text(form, "options"))
    translations = dict(current or {})
    translations.pop("zh_CN", None)
    if forms.text(form, "label_zh"):
        translations["zh_CN"] = forms.text(form, "label_zh")
    translations["options"] = {"zh_CN": labels} if labels else {}
    if not translations["options"]:
        translations.pop("options")
    return options, translations


@router.get("/fields")
async def field_list(request: Request, me: Fields, runtime: RuntimeDep) -> HTMLResponse:
    definitions = await runtime.db.read(fields.list_definitions, None)
    return _page(request, me, "fields", "fields.html", definitions=definitions)


@router.post("/fields")
async def create_field(request: Request, me: Fields, runtime: RuntimeDep) -> Response:
    form = await request.form()
    options, translations = _translations(form)
    data = {
        "entity": forms.text(form, "entity") or "ticket",
        "key": forms.text(form, "key") or "",
        "label": forms.text(form, "label") or "",
        "type": forms.text(form, "type") or "",
        "options": options,
        "translations": translations,
        "required": forms.checked(form, "required"),
        "position": forms.optional_int(form, "position") or 0,
        "description": forms.text(form, "description") or "",
    }
    await runtime.db.write(fields.create_definition, forms.parse(FieldDefinitionCreate, data))
    return _done(request, "/admin/fields", "created")


@router.get("/fields/{field_id}")
async def field_page(
    request: Request, me: Fields, runtime: RuntimeDep, field_id: int
) -> HTMLResponse:
    definition: FieldDefinitionRead = await runtime.db.read(fields.get_definition, field_id)
    return _page(request, me, "fields", "field.html", definition=definition)


@router.post("/fields/{field_id}")
async def update_field(
    request: Request, me: Fields, runtime: RuntimeDep, field_id: int
) -> Response:
    form = await request.form()
    current = await runtime.db.read(fields.get_definition, field_id)
    options, translations = _translations(form, current.translations)
    data: dict[str, Any] = {
        "label": forms.text(form, "label") or current.label,
        "translations": translations,
        "required": forms.checked(form, "required"),
        "active": forms.checked(form, "active"),
        "position": forms.optional_int(form, "position") or 0,
        "description": forms.text(form, "description") or "",
    }
    if current.type in ("select", "multi_select"):
        data["options"] = options
    await runtime.db.write(
        fields.update_definition, field_id, forms.parse(FieldDefinitionUpdate, data)
    )
    return _done(request, "/admin/fields")


@router.post("/fields/{field_id}/delete")
async def delete_field(
    request: Request, me: Fields, runtime: RuntimeDep, field_id: int
) -> Response:
    await runtime.db.write(fields.delete_definition, field_id)
    return _done(request, "/admin/fields", "deleted")


# -- tags --------------------------------------------------------------------------------
@router.get("/tags")
async def tag_list(request: Request, me: Tags, runtime: RuntimeDep) -> HTMLResponse:
    counts = await runtime.db.read(tags.tag_counts, 300)
    return _page(request, me, "tags", "tags.html", counts=counts)


@router.post("/tags/rename")
async def rename_tag(request: Request, me: Tags, runtime: RuntimeDep) -> Response:
    form = await request.form()
    await runtime.db.write(
        tags.rename_tag, me, forms.text(form, "tag") or "", forms.text(form, "new_tag") or ""
    )
    return _done(request, "/admin/tags")


@router.post("/tags/delete")
async def delete_tag(request: Request, me: Tags, runtime: RuntimeDep) -> Response:
    form = await request.form()
    await runtime.db.write(tags.delete_tag, me, forms.text(form, "tag") or "")
    return _done(request, "/admin/tags", "deleted")


# -- canned replies ----------------------------------------------------------------------
def _canned_form(form: FormData) -> dict[str, Any]:
    return {
        "title": forms.text(form, "title") or "",
        "body": forms.text(form, "body") or "",
        "language": forms.text(form, "language"),
    }


@router.get("/canned")
async def canned_list(request: Request, me: Canned, runtime: RuntimeDep) -> HTMLResponse:
    replies = await runtime.db.read(canned.list_replies, None, 500)
    return _page(
        request,
        me,
        "canned",
        "canned.html",
        replies=replies,
        placeholders=canned.PLACEHOLDERS,
        languages=LANGUAGE_NAMES,
    )


@router.post("/canned")
async def create_canned(request: Request, me: Canned, runtime: RuntimeDep) -> Response:
    data = forms.parse(CannedReplyCreate, _canned_form(await request.form()))
    await runtime.db.write(canned.create_reply, me, data)
    return _done(request, "/admin/canned", "created")


@router.get("/canned/{reply_id}")
async def canned_page(
    request: Request, me: Canned, runtime: RuntimeDep, reply_id: int
) -> HTMLResponse:
    reply = await runtime.db.read(canned.get_reply, reply_id)
    return _page(
        request,
        me,
        "canned",
        "canned_reply.html",
        reply=reply,
        placeholders=canned.PLACEHOLDERS,
        languages=LANGUAGE_NAMES,
    )


@router.post("/canned/{reply_id}")
async def update_canned(
    request: Request, me: Canned, runtime: RuntimeDep, reply_id: int
) -> Response:
    data = forms.parse(CannedReplyUpdate, _canned_form(await request.form()))
    await runtime.db.write(canned.update_reply, reply_id, data)
    return _done(request, "/admin/canned")


@router.post("/canned/{reply_id}/delete")
async def delete_canned(
    request: Request, me: Canned, runtime: RuntimeDep, reply_id: int
) -> Response:
    await runtime.db.write(canned.delete_reply, reply_id)
    return _done(request, "/admin/canned", "deleted")


# -- general settings --------------------------------------------------------------------
@router.get("/settings")
async def settings_page(request: Request, me: Settings, runtime: RuntimeDep) -> HTMLResponse:
    current = await runtime.db.read(admin.general_settings)
    return _page(
        request,
        me,
        "settings",
        "settings.html",
        settings=current,
        languages=LANGUAGE_NAMES,
        zones=time_zones(),
    )


@router.post("/settings")
async def save_settings(request: Request, me: Settings, runtime: RuntimeDep) -> Response:
    form = await request.form()
    data = {
        "organisation_name": forms.text(form, "organisation_name") or "",
        "default_language": forms.text(form, "default_language") or "en",
        "default_time_zone": forms.text(form, "default_time_zone") or "UTC",
        "support_email": forms.text(form, "support_email") or "",
    }
    await runtime.db.write(admin.update_general_settings, forms.parse(GeneralSettings, data))
    return _done(request, "/admin/settings")
