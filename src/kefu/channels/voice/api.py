"""Call records in the API, the agent's end of wrap-up, and the router's offers turned
into the ringing of the offered agent's phone (``call.ringing``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI

from kefu.channels.voice import service
from kefu.channels.voice.schemas import CallRead
from kefu.events import Event
from kefu.runtime import Runtime
from kefu.security.deps import RuntimeDep, require
from kefu.security.permissions import Action, Principal

router = APIRouter(prefix="/api/v1", tags=["calls"])
Reader = Annotated[Principal, Depends(require(Action.ticket_read))]
Writer = Annotated[Principal, Depends(require(Action.ticket_write))]


@router.get("/tickets/{ticket_id}/calls")
async def calls_of_ticket(ticket_id: int, principal: Reader, runtime: RuntimeDep) -> list[CallRead]:
    """The calls on a ticket, oldest first, with their ring, talk, hold and wrap-up times."""
    return await runtime.db.read(service.calls_of_ticket, principal, ticket_id)


@router.get("/calls/{call_id}")
async def get_call(call_id: int, principal: Reader, runtime: RuntimeDep) -> CallRead:
    return await runtime.db.read(service.get_call, principal, call_id)


@router.post("/calls/{call_id}/wrap-up")
async def finish_wrap_up(call_id: int, principal: Writer, runtime: RuntimeDep) -> CallRead:
    """The agent is done with the after-call work of an ended call."""
    return await runtime.db.write(service.finish_wrap_up, principal, call_id)


def install(app: FastAPI, runtime: Runtime) -> None:
    app.include_router(router)

    async def offered(event: Event) -> None:
        payload = event.payload
        # Only a call rings a phone: chats and tickets need no write transaction here.
        is_call = payload.get("kind") == "call"
        if (
            is_call
            and event.origin == "local"
            and payload.get("item_id")
            and payload.get("agent_id")
        ):
            await runtime.db.write(
                service.call_offered, int(payload["item_id"]), int(payload["agent_id"])
            )

    runtime.bus.subscribe("routing.offer.created", offered)
