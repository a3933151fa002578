"""Agents' macros: a named list of actions (the rules' ticket actions) that an agent applies
to a ticket from its page, as themself, with their own permissions. Applying is all or
nothing; the preview shows what would change and the texts it would write. Never commits.
"""

from __future__ import annotations

from kefu.db import Ctx
from kefu.kit.errors import Conflict, FieldError, Invalid, NotFound, invalid
from kefu.rules import actions as acts
from kefu.rules import catalogue as cat
from kefu.rules import engine, templates
from kefu.rules import facts as facts_of
from kefu.rules import repository as repo
from kefu.rules.actions_spec import CompiledAction, compile_actions
from kefu.rules.models import Macro
from kefu.rules.refs import Refs
from kefu.rules.schemas import ActionResult, MacroIn, MacroList, MacroPreview, MacroRead
from kefu.security.permissions import Principal
from kefu.tickets import service as tickets

Loc = list[str | int]


def macro_read(macro: Macro) -> MacroRead:
    return MacroRead.model_validate(macro, from_attributes=True)


def _require(ctx: Ctx, macro_id: int) -> Macro:
    macro = repo.get_macro(ctx.session, macro_id)
    if macro is None:
        raise NotFound("Macro", macro_id)
    return macro


def compile_macro(
    ctx: Ctx, data: MacroIn, loc: Loc, macro_id: int | None, refs: Refs | None = None
) -> list[CompiledAction]:
    actions, errors = compile_actions(
        data.actions, refs or engine.load_refs(ctx), cat.TICKET, [*loc, "actions"], macro=True
    )
    other = repo.macro_by_name(ctx.session, data.name)
    if other is not None and other.id != macro_id:
        errors.append(FieldError([*loc, "name"], f"a macro named '{data.name}' exists"))
    if errors:
        raise Invalid(errors, f"{len(errors)} problem(s) in the macro; nothing was changed")
    return actions


def list_macros(ctx: Ctx, active_only: bool = False) -> MacroList:
    return MacroList(items=[macro_read(m) for m in repo.macros(ctx.session, active_only)])


def get_macro(ctx: Ctx, macro_id: int) -> MacroRead:
    return macro_read(_require(ctx, macro_id))


def create_macro(
    ctx: Ctx,
    actor: Principal | None,
    data: MacroIn,
    loc: Loc | None = None,
    refs: Refs | None = None,
) -> MacroRead:
    compile_macro(ctx, data, loc or ["body"], None, refs)
    now = ctx.now()
    count = len(repo.macros(ctx.session))
    macro = Macro(
        name=data.name,
        description=data.description,
        actions=data.actions,
        active=data.active,
        position=count if data.position is None else data.position,
        version=1,
        updated_by_id=actor.user_id if actor else None,
        created_at=now,
        updated_at=now,
    )
    repo.add(ctx.session, macro)
    ctx.emit("macro.created", macro_id=macro.id)
    return macro_read(macro)


def update_macro(
    ctx: Ctx,
    actor: Principal | None,
    macro_id: int,
    data: MacroIn,
    loc: Loc | None = None,
    refs: Refs | None = None,
) -> MacroRead:
    macro = _require(ctx, macro_id)
    compile_macro(ctx, data, loc or ["body"], macro_id, refs)
    macro.name, macro.description, macro.actions = data.name, data.description, data.actions
    macro.active = data.active
    if data.position is not None:
        macro.position = data.position
    macro.version += 1
    macro.updated_at, macro.updated_by_id = ctx.now(), actor.user_id if actor else None
    ctx.emit("macro.updated", macro_id=macro.id)
    return macro_read(macro)


def delete_macro(ctx: Ctx, macro_id: int) -> None:
    repo.delete_obj(ctx.session, _require(ctx, macro_id))
    ctx.emit("macro.deleted", macro_id=macro_id)


# -- on a ticket -----------------------------------------------------------------------------
def preview_macro(ctx: Ctx, actor: Principal, ticket_id: int, macro_id: int) -> MacroPreview:
    return _run(ctx, actor, ticket_id, macro_id, dry=True)


def apply_macro(ctx: Ctx, actor: Principal, ticket_id: int, macro_id: int) -> MacroPreview:
    return _run(ctx, actor, ticket_id, macro_id, dry=False)


def _run(ctx: Ctx, actor: Principal, ticket_id: int, macro_id: int, dry: bool) -> MacroPreview:
    tickets.load_ticket(ctx, actor, ticket_id, write=not dry)
    macro = _require(ctx, macro_id)
    if not macro.active:
        raise invalid(["path", "macro_id"], f"macro '{macro.name}' is switched off")
    stored = MacroIn(name=macro.name, actions=macro.actions)
    actions = compile_macro(ctx, stored, [], macro.id)
    facts = _facts(ctx, ticket_id)
    results: list[ActionResult] = []
    for action in actions:
        env = acts.Env(ctx, facts, None, macro.name, actor, dry)
        try:
            done = acts.run(env, action)
        except (templates.TemplateProblem, acts.ActionFailed) as exc:
            raise Conflict(f"{action.type} failed: {exc}") from exc
        results += [ActionResult.model_validate(r) for r in done]
        if not dry:
            facts = _facts(ctx, ticket_id)
    if not dry:
        entry = (ticket_id, "macro_applied", None, None, macro.name)
        tickets.record_history(ctx, actor, [entry])
    return MacroPreview(macro_id=macro.id, name=macro.name, ticket_id=ticket_id, changes=results)


def _facts(ctx: Ctx, ticket_id: int) -> facts_of.Facts:
    found = facts_of.ticket_facts(
        ctx, ticket_id, "macro", {}, frozenset({"context", "message"}), ctx.now()
    )
    if found is None:
        raise NotFound("Ticket", ticket_id)
    return found
