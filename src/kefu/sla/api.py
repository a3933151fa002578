"""JSON routes of SLA policies (supervisors and admins write, agents read), their export
and import (the JSON form of ``kefu sla export``), and attainment for reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response

from kefu.kit.http import etag, parse_if_match
from kefu.security.deps import RuntimeDep, require
from kefu.security.permissions import Action, Principal
from kefu.sla import policies, reports, transfer
from kefu.sla.schemas import (
    Attainment,
    ImportResult,
    PolicyIn,
    PolicyList,
    PolicyOrder,
    PolicyRead,
    SlaDocument,
)

router = APIRouter(prefix="/api/v1", tags=["sla"])
Reader = Annotated[Principal, Depends(require(Action.sla_read))]
Writer = Annotated[Principal, Depends(require(Action.sla_write))]


@router.get("/sla-policies")
async def list_policies(principal: Reader, runtime: RuntimeDep) -> PolicyList:
    """In the order they are tried: the first enabled policy that matches applies."""
    return await runtime.db.read(policies.list_policies)


@router.post("/sla-policies", status_code=201)
async def create_policy(
    data: PolicyIn, principal: Writer, runtime: RuntimeDep, response: Response
) -> PolicyRead:
    policy = await runtime.db.write(policies.create_policy, principal, data)
    response.headers["Location"] = f"/api/v1/sla-policies/{policy.id}"
    response.headers["ETag"] = etag(policy.version)
    return policy


@router.put("/sla-policies/order")
async def reorder(data: PolicyOrder, principal: Writer, runtime: RuntimeDep) -> PolicyList:
    return await runtime.db.write(policies.reorder, principal, data.ids)


@router.get("/sla-policies/export")
async def export(principal: Reader, runtime: RuntimeDep) -> SlaDocument:
    """Calendars and policies in the form ``kefu sla import`` and ``/import`` read."""
    return await runtime.db.read(transfer.export_document)


@router.post("/sla-policies/import")
async def import_(
    data: SlaDocument, principal: Writer, runtime: RuntimeDep, prune: bool = False
) -> ImportResult:
    """Create or replace calendars and policies by name, all or nothing; policies take the
    document's order. With ``prune``, policies missing from the document are deleted."""
    return await runtime.db.write(transfer.import_document, principal, data, prune)


@router.get("/sla-policies/attainment")
async def attainment(
    principal: Reader,
    runtime: RuntimeDep,
    start: datetime,
    end: datetime,
    policy_id: int | None = None,
) -> Attainment:
    """Met and breached targets per metric, for clocks started in [start, end)."""
    return await runtime.db.read(reports.attainment, start, end, policy_id)


@router.get("/sla-policies/{policy_id}")
async def get_policy(
    policy_id: int, principal: Reader, runtime: RuntimeDep, response: Response
) -> PolicyRead:
    policy = await runtime.db.read(policies.get_policy, policy_id)
    response.headers["ETag"] = etag(policy.version)
    return policy


@router.put("/sla-policies/{policy_id}")
async def replace_policy(
    policy_id: int,
    data: PolicyIn,
    principal: Writer,
    runtime: RuntimeDep,
    response: Response,
    if_match: Annotated[str | None, Header(description='The ETag you read, e.g. W/"3"')] = None,
) -> PolicyRead:
    """Replace the policy as a whole; refused whole (422, each field at fault) when any
    part is wrong, and the version in force keeps running."""
    version = parse_if_match(if_match)
    policy = await runtime.db.write(policies.update_policy, principal, policy_id, data, version)
    response.headers["ETag"] = etag(policy.version)
    return policy


@router.delete("/sla-policies/{policy_id}", status_code=204)
async def delete_policy(policy_id: int, principal: Writer, runtime: RuntimeDep) -> Response:
    await runtime.db.write(policies.delete_policy, principal, policy_id)
    return Response(status_code=204)
