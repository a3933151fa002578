"""JSON routes of rules (supervisors and admins), macros (agents apply, leads define), and
the export / import of both (the JSON form of ``kefu rules export``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response

from kefu.kit.http import etag, parse_if_match
from kefu.rules import dryrun, macros, picklists, service, transfer
from kefu.rules.schemas import (
    DryRunResult,
    FiringPage,
    ImportResult,
    MacroIn,
    MacroList,
    MacroPreview,
    MacroRead,
    RuleIn,
    RuleList,
    RuleOrder,
    RuleRead,
    RulesDocument,
    RuleVersionRead,
)
from kefu.security.deps import RuntimeDep, require
from kefu.security.permissions import Action, Principal

router = APIRouter(prefix="/api/v1", tags=["rules"])
Reader = Annotated[Principal, Depends(require(Action.rule_read))]
Writer = Annotated[Principal, Depends(require(Action.rule_write))]
MacroReader = Annotated[Principal, Depends(require(Action.macro_read))]
MacroWriter = Annotated[Principal, Depends(require(Action.macro_write))]
Agent = Annotated[Principal, Depends(require(Action.ticket_write))]
Days = Annotated[int, Query(ge=1, le=365, description="How many days back to replay")]


@router.get("/rules")
async def list_rules(principal: Reader, runtime: RuntimeDep) -> RuleList:
    """In the order they run: on each event, every enabled matching rule fires in turn."""
    return await runtime.db.read(service.list_rules)


@router.post("/rules", status_code=201)
async def create_rule(
    data: RuleIn, principal: Writer, runtime: RuntimeDep, response: Response
) -> RuleRead:
    """Refused whole (422, each fault with its path) when any part is wrong."""
    rule = await runtime.db.write(service.create_rule, principal, data)
    response.headers["Location"] = f"/api/v1/rules/{rule.id}"
    response.headers["ETag"] = etag(rule.version)
    return rule


@router.get("/rules/catalogue")
async def rules_catalogue(principal: Reader, runtime: RuntimeDep) -> dict[str, Any]:
    """Events, fields and their operators, actions, and the names rules may use."""
    return await runtime.db.read(picklists.catalogue)


@router.get("/rules/export")
async def export(principal: Reader, runtime: RuntimeDep) -> RulesDocument:
    """Rules (in order) and macros, in the form ``kefu rules import`` and ``/import`` read."""
    return await runtime.db.read(transfer.export_document)


@router.post("/rules/import")
async def import_(
    data: RulesDocument, principal: Writer, runtime: RuntimeDep, prune: bool = False
) -> ImportResult:
    """Create or replace rules and macros by name, all or nothing; rules take the document's
    order. With ``prune``, rules missing from the document are deleted."""
    return await runtime.db.write(transfer.import_document, principal, data, prune)


@router.put("/rules/order")
async def reorder(data: RuleOrder, principal: Writer, runtime: RuntimeDep) -> RuleList:
    return await runtime.db.write(service.reorder, principal, data.ids)


@router.post("/rules/dry-run")
async def dry_run_draft(
    data: RuleIn, principal: Reader, runtime: RuntimeDep, days: Days = 7
) -> DryRunResult:
    """What an unsaved rule would have done over the last ``days``; nothing changes."""
    return await runtime.db.read(dryrun.dry_run_definition, data, days)


@router.get("/rules/{rule_id}")
async def get_rule(
    rule_id: int, principal: Reader, runtime: RuntimeDep, response: Response
) -> RuleRead:
    rule = await runtime.db.read(service.get_rule, rule_id)
    response.headers["ETag"] = etag(rule.version)
    return rule


@router.put("/rules/{rule_id}")
async def replace_rule(
    rule_id: int,
    data: RuleIn,
    principal: Writer,
    runtime: RuntimeDep,
    response: Response,
    if_match: Annotated[str | None, Header(description='The ETag you read, e.g. W/"3"')] = None,
) -> RuleRead:
    """Replace the rule as a whole; the previous version is kept (see /versions)."""
    version = parse_if_match(if_match)
    rule = await runtime.db.write(service.update_rule, principal, rule_id, data, version)
    response.headers["ETag"] = etag(rule.version)
    return rule


@router.delete("/rules/{rule_id}", status_code=204)
async def delete_rule(rule_id: int, principal: Writer, runtime: RuntimeDep) -> Response:
    await runtime.db.write(service.delete_rule, principal, rule_id)
    return Response(status_code=204)


@router.get("/rules/{rule_id}/versions")
async def versions(rule_id: int, principal: Reader, runtime: RuntimeDep) -> list[RuleVersionRead]:
    """Every saved state, newest first: who changed what, when."""
    return await runtime.db.read(service.list_versions, rule_id)


@router.post("/rules/{rule_id}/versions/{version}/restore")
async def restore(rule_id: int, version: int, principal: Writer, runtime: RuntimeDep) -> RuleRead:
    """Bring an earlier version back, as a new version."""
    return await runtime.db.write(service.restore_version, principal, rule_id, version)


@router.post("/rules/{rule_id}/dry-run")
async def dry_run(
    rule_id: int, principal: Reader, runtime: RuntimeDep, days: Days = 7
) -> DryRunResult:
    """The tickets the rule would have matched over the last ``days`` and what it would
    have changed on each; nothing changes."""
    return await runtime.db.read(dryrun.dry_run, rule_id, days)


@router.get("/rules/{rule_id}/firings")
async def firings(
    rule_id: int, principal: Reader, runtime: RuntimeDep, cursor: str | None = None
) -> FiringPage:
    """When the rule fired, on which ticket, and what each action did."""
    return await runtime.db.read(service.list_firings, rule_id, None, cursor)


# -- macros ----------------------------------------------------------------------------------
@router.get("/macros", tags=["macros"])
async def list_macros(
    principal: MacroReader, runtime: RuntimeDep, active: bool = False
) -> MacroList:
    return await runtime.db.read(macros.list_macros, active)


@router.post("/macros", status_code=201, tags=["macros"])
async def create_macro(data: MacroIn, principal: MacroWriter, runtime: RuntimeDep) -> MacroRead:
    return await runtime.db.write(macros.create_macro, principal, data)


@router.get("/macros/{macro_id}", tags=["macros"])
async def get_macro(macro_id: int, principal: MacroReader, runtime: RuntimeDep) -> MacroRead:
    return await runtime.db.read(macros.get_macro, macro_id)


@router.put("/macros/{macro_id}", tags=["macros"])
async def replace_macro(
    macro_id: int, data: MacroIn, principal: MacroWriter, runtime: RuntimeDep
) -> MacroRead:
    return await runtime.db.write(macros.update_macro, principal, macro_id, data)


@router.delete("/macros/{macro_id}", status_code=204, tags=["macros"])
async def delete_macro(macro_id: int, principal: MacroWriter, runtime: RuntimeDep) -> Response:
    await runtime.db.write(macros.delete_macro, macro_id)
    return Response(status_code=204)


@router.get("/tickets/{ticket_id}/macros/{macro_id}/preview", tags=["macros"])
async def preview_macro(
    ticket_id: int, macro_id: int, principal: Agent, runtime: RuntimeDep
) -> MacroPreview:
    """What applying the macro would change, and the texts it would write."""
    return await runtime.db.read(macros.preview_macro, principal, ticket_id, macro_id)


@router.post("/tickets/{ticket_id}/macros/{macro_id}", tags=["macros"])
async def apply_macro(
    ticket_id: int, macro_id: int, principal: Agent, runtime: RuntimeDep
) -> MacroPreview:
    """Apply every action of the macro, as you, all or nothing."""
    return await runtime.db.write(macros.apply_macro, principal, ticket_id, macro_id)
