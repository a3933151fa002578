"""Surveys in the API: the satisfaction surveys of a ticket."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from kefu.security.deps import RuntimeDep, require
from kefu.security.permissions import Action, Principal
from kefu.surveys import service
from kefu.surveys.schemas import SurveyRead

router = APIRouter(prefix="/api/v1", tags=["surveys"])
Reader = Annotated[Principal, Depends(require(Action.ticket_read))]


@router.get("/tickets/{ticket_id}/surveys")
async def surveys_of_ticket(
    ticket_id: int, principal: Reader, runtime: RuntimeDep
) -> list[SurveyRead]:
    """The ticket's satisfaction surveys, oldest first: when each was sent, and its rating
    (1–5) and comment once the customer answered (a later answer replaces the earlier)."""
    return await runtime.db.read(service.surveys_of_ticket, principal, ticket_id)
