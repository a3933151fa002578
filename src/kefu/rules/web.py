"""Console pages of rules and macros (in the admin console), and the macro picker of the
ticket page's composer. The editors are pick-lists built by ``static/rules.js`` from the
catalogue this page embeds in the reader's language; they save through the JSON API, so
the page and the API refuse the same rules with the same paths."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from kefu.admin.web import SECTIONS
from kefu.kit.errors import FieldError, Invalid, invalid
from kefu.kit.yamlfile import YamlDocument, YamlError, dump_yaml, load_yaml
from kefu.rules import catalogue as cat
from kefu.rules import macros, picklists, repository, service, transfer
from kefu.rules.schemas import RulesDocument
from kefu.security.deps import RuntimeDep
from kefu.security.permissions import Action, Principal
from kefu.web import forms
from kefu.web.auth import allowed
from kefu.web.render import gettext_for, render

router = APIRouter(include_in_schema=False)
Leads = Annotated[Principal, Depends(allowed(Action.rule_write))]
MacroLeads = Annotated[Principal, Depends(allowed(Action.macro_write))]
Agent = Annotated[Principal, Depends(allowed(Action.ticket_write))]
NEW_RULE: dict[str, Any] = {
    "name": "",
    "description": "",
    "enabled": False,
    "trigger": ["ticket.created"],
    "conditions": {"all": []},
    "actions": [],
}


def page(
    request: Request, me: Principal, section: str, template: str, **context: Any
) -> HTMLResponse:
    sections = [s for s in SECTIONS if me.allows(s.action)]
    base = {"me": me, "sections": sections, "current": section, "section": "admin"}
    return render(request, template, {**base, **context})


async def _builder(request: Request, me: Principal, runtime: Any) -> dict[str, Any]:
    _ = gettext_for(request, me)
    return {"catalogue": await runtime.db.read(picklists.catalogue, _)}


# -- rules -----------------------------------------------------------------------------------
def _overview(ctx: Any) -> dict[str, Any]:
    waiting, dead = repository.queue_counts(ctx.session)
    return {
        "imported": None,
        "rules": service.list_rules(ctx).items,
        "broken": service.rule_problems(ctx),
        "waiting": waiting,
        "dead": dead,
    }


@router.get("/admin/rules")
async def rule_list(request: Request, me: Leads, runtime: RuntimeDep) -> HTMLResponse:
    data = await runtime.db.read(_overview)
    return page(request, me, "rules", "rules/list.html", **data)


@router.get("/admin/rules/new")
async def new_rule(request: Request, me: Leads, runtime: RuntimeDep) -> HTMLResponse:
    builder = await _builder(request, me, runtime)
    context = {"rule": None, "definition": NEW_RULE, "problems": [], "saved": 0, **builder}
    return page(request, me, "rules", "rules/edit.html", **context)


@router.get("/admin/rules/export.yaml")
async def export_yaml(me: Leads, runtime: RuntimeDep) -> Response:
    doc = await runtime.db.read(transfer.export_document)
    text = dump_yaml(doc.model_dump(mode="json"))
    headers = {"Content-Disposition": 'attachment; filename="kefu-rules.yaml"'}
    return Response(text, media_type="application/yaml; charset=utf-8", headers=headers)


@router.post("/admin/rules/import")
async def import_yaml(request: Request, me: Leads, runtime: RuntimeDep) -> HTMLResponse:
    """A YAML file from ``kefu rules export``: all or nothing, each fault with its line."""
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise invalid(["body", "file"], "choose a YAML file")
    text = (await upload.read()).decode("utf-8", errors="replace")
    try:
        source = load_yaml(text)
    except YamlError as exc:
        raise invalid(["body", "file"], f"line {exc.line or '?'}: {exc.message}") from exc
    try:
        doc = forms.parse(RulesDocument, source.data or {})
        result = await runtime.db.write(transfer.import_document, me, doc, False, [])
    except Invalid as exc:
        raise Invalid([_with_line(source, e) for e in exc.errors], exc.detail) from exc
    data = await runtime.db.read(_overview)
    return page(request, me, "rules", "rules/list.html", **{**data, "imported": result})


def _with_line(source: YamlDocument, error: FieldError) -> FieldError:
    loc = error.loc[1:] if error.loc[:1] == ["body"] else error.loc
    return FieldError(error.loc, f"line {source.line_of(loc) or '?'}: {error.msg}")


@router.get("/admin/rules/{rule_id}")
async def edit_rule(
    request: Request, me: Leads, runtime: RuntimeDep, rule_id: int, saved: int = 0
) -> HTMLResponse:
    rule = await runtime.db.read(service.get_rule, rule_id)
    builder = await _builder(request, me, runtime)
    definition = rule.model_dump(mode="json", include=set(service.DEFINITION_KEYS))
    problems = (await runtime.db.read(service.rule_problems)).get(rule_id, [])
    return page(
        request,
        me,
        "rules",
        "rules/edit.html",
        rule=rule,
        definition=definition,
        problems=problems,
        saved=saved,
        **builder,
    )


@router.post("/admin/rules/{rule_id}/enabled")
async def toggle_rule(request: Request, me: Leads, runtime: RuntimeDep, rule_id: int) -> Response:
    form = await request.form()
    await runtime.db.write(service.set_enabled, me, rule_id, forms.checked(form, "enabled"))
    return forms.redirect("/admin/rules", "saved", htmx=forms.is_htmx(request))


@router.post("/admin/rules/{rule_id}/move")
async def move_rule(request: Request, me: Leads, runtime: RuntimeDep, rule_id: int) -> Response:
    form = await request.form()
    step = -1 if forms.text(form, "direction") == "up" else 1
    ids = [r.id for r in (await runtime.db.read(service.list_rules)).items]
    at = ids.index(rule_id) if rule_id in ids else -1
    if at >= 0 and 0 <= at + step < len(ids):
        ids[at], ids[at + step] = ids[at + step], ids[at]
        await runtime.db.write(service.reorder, me, ids)
    return forms.redirect("/admin/rules", "saved", htmx=forms.is_htmx(request))


@router.post("/admin/rules/{rule_id}/delete")
async def delete_rule(request: Request, me: Leads, runtime: RuntimeDep, rule_id: int) -> Response:
    await runtime.db.write(service.delete_rule, me, rule_id)
    return forms.redirect("/admin/rules", "deleted", htmx=forms.is_htmx(request))


@router.get("/admin/rules/{rule_id}/versions")
async def rule_versions(
    request: Request, me: Leads, runtime: RuntimeDep, rule_id: int
) -> HTMLResponse:
    rule = await runtime.db.read(service.get_rule, rule_id)
    versions = await runtime.db.read(service.list_versions, rule_id)
    shown = [(v, dump_yaml(v.definition)) for v in versions]
    return page(request, me, "rules", "rules/versions.html", rule=rule, versions=shown)


@router.post("/admin/rules/{rule_id}/versions/{version}/restore")
async def restore_version(
    request: Request, me: Leads, runtime: RuntimeDep, rule_id: int, version: int
) -> Response:
    await runtime.db.write(service.restore_version, me, rule_id, version)
    return forms.redirect(f"/admin/rules/{rule_id}", "saved", htmx=forms.is_htmx(request))


@router.get("/admin/rules/{rule_id}/firings")
async def rule_firings(
    request: Request, me: Leads, runtime: RuntimeDep, rule_id: int, cursor: str | None = None
) -> HTMLResponse:
    rule = await runtime.db.read(service.get_rule, rule_id)
    firings = await runtime.db.read(service.list_firings, rule_id, None, cursor)
    return page(request, me, "rules", "rules/firings.html", rule=rule, firings=firings)


# -- macros ----------------------------------------------------------------------------------
@router.get("/admin/macros")
async def macro_list(request: Request, me: MacroLeads, runtime: RuntimeDep) -> HTMLResponse:
    items = (await runtime.db.read(macros.list_macros)).items
    return page(request, me, "macros", "rules/macros.html", macros=items)


@router.get("/admin/macros/new")
async def new_macro(request: Request, me: MacroLeads, runtime: RuntimeDep) -> HTMLResponse:
    builder = await _builder(request, me, runtime)
    definition = {"name": "", "description": "", "active": True, "actions": []}
    return page(
        request,
        me,
        "macros",
        "rules/macro.html",
        macro=None,
        definition=definition,
        saved=0,
        **builder,
    )


@router.get("/admin/macros/{macro_id}")
async def edit_macro(
    request: Request, me: MacroLeads, runtime: RuntimeDep, macro_id: int, saved: int = 0
) -> HTMLResponse:
    macro = await runtime.db.read(macros.get_macro, macro_id)
    builder = await _builder(request, me, runtime)
    definition = macro.model_dump(mode="json", include={"name", "description", "active", "actions"})
    return page(
        request,
        me,
        "macros",
        "rules/macro.html",
        macro=macro,
        definition=definition,
        saved=saved,
        **builder,
    )


@router.post("/admin/macros/{macro_id}/delete")
async def delete_macro(
    request: Request, me: MacroLeads, runtime: RuntimeDep, macro_id: int
) -> Response:
    await runtime.db.write(macros.delete_macro, macro_id)
    return forms.redirect("/admin/macros", "deleted", htmx=forms.is_htmx(request))


# -- the ticket page's composer --------------------------------------------------------------
@router.get("/tickets/{ticket_id}/macros")
async def macro_picker(
    request: Request, me: Agent, runtime: RuntimeDep, ticket_id: int
) -> HTMLResponse:
    items = (await runtime.db.read(macros.list_macros, True)).items
    context = {"me": me, "macros": items, "ticket_id": ticket_id}
    return render(request, "rules/_macro_picker.html", context)


@router.get("/tickets/{ticket_id}/macros/{macro_id}")
async def macro_preview(
    request: Request, me: Agent, runtime: RuntimeDep, ticket_id: int, macro_id: int
) -> HTMLResponse:
    preview = await runtime.db.read(macros.preview_macro, me, ticket_id, macro_id)
    _ = gettext_for(request, me)
    names = {
        "action_names": {a.type: _(a.label) for a in cat.ACTIONS.values()},
        "field_names": {"team": _("Team"), "assignee": _("Assignee"), "queue": _("Queue")},
    }
    return render(request, "rules/_macro_preview.html", {"me": me, "preview": preview, **names})


@router.post("/tickets/{ticket_id}/macros/{macro_id}")
async def macro_apply(
    request: Request, me: Agent, runtime: RuntimeDep, ticket_id: int, macro_id: int
) -> Response:
    await runtime.db.write(macros.apply_macro, me, ticket_id, macro_id)
    return forms.redirect(f"/tickets/{ticket_id}", "saved", htmx=forms.is_htmx(request))
