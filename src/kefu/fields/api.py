"""JSON routes of custom field definitions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from kefu.fields import service as fields
from kefu.fields.models import FieldEntity
from kefu.fields.schemas import FieldDefinitionCreate, FieldDefinitionRead, FieldDefinitionUpdate
from kefu.kit.http import Id
from kefu.security.deps import RuntimeDep, require
from kefu.security.permissions import Action, Principal

router = APIRouter(prefix="/api/v1", tags=["fields"])
Reader = Annotated[Principal, Depends(require(Action.field_read))]
Writer = Annotated[Principal, Depends(require(Action.field_write))]


@router.get("/fields")
async def list_fields(
    principal: Reader, runtime: RuntimeDep, entity: FieldEntity | None = None
) -> list[FieldDefinitionRead]:
    return await runtime.db.read(fields.list_definitions, entity.value if entity else None)


@router.post("/fields", status_code=201)
async def create_field(
    data: FieldDefinitionCreate, principal: Writer, runtime: RuntimeDep
) -> FieldDefinitionRead:
    return await runtime.db.write(fields.create_definition, data)


@router.get("/fields/{field_id}")
async def get_field(field_id: Id, principal: Reader, runtime: RuntimeDep) -> FieldDefinitionRead:
    return await runtime.db.read(fields.get_definition, field_id)


@router.patch("/fields/{field_id}")
async def update_field(
    field_id: Id, data: FieldDefinitionUpdate, principal: Writer, runtime: RuntimeDep
) -> FieldDefinitionRead:
    return await runtime.db.write(fields.update_definition, field_id, data)


@router.delete("/fields/{field_id}", status_code=204)
async def delete_field(field_id: Id, principal: Writer, runtime: RuntimeDep) -> Response:
    await runtime.db.write(fields.delete_definition, field_id)
    return Response(status_code=204)
