"""JSON routes of routing: agent seats and states, offers, queues, work items, wallboard."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from kefu.events import Event
from kefu.kit.errors import invalid
from kefu.routing import offers, queues, retry, work
from kefu.routing import service as seats
from kefu.routing.schemas import (
    Answered,
    BreakReasonIn,
    BreakReasonRead,
    BreakReasonUpdate,
    OfferRead,
    QueueCreate,
    QueueRead,
    QueueStats,
    QueueUpdate,
    Reassign,
    SeatRead,
    SeatUpdate,
    StateChange,
    StateSpan,
    Wallboard,
    WorkIn,
    WorkRead,
)
from kefu.runtime import Runtime
from kefu.security.deps import RuntimeDep, require
from kefu.security.permissions import Action, Principal

router = APIRouter(prefix="/api/v1", tags=["routing"])
Self = Annotated[Principal, Depends(require(Action.routing_self))]
Reader = Annotated[Principal, Depends(require(Action.routing_read))]
Worker = Annotated[Principal, Depends(require(Action.routing_work))]
Supervisor = Annotated[Principal, Depends(require(Action.routing_supervise))]
Admin = Annotated[Principal, Depends(require(Action.routing_admin))]
WINDOW = Annotated[int, Query(ge=60, le=31 * 86400, description="Statistics window, seconds")]


class StateHistory(BaseModel):
    user_id: int
    since: datetime
    until: datetime
    spans: list[StateSpan]
    seconds: dict[str, float]
    occupancy: float | None
    utilisation: float | None


# -- agents ---------------------------------------------------------------------------------
@router.get("/agents/me", tags=["agents"])
async def my_seat(me: Self, runtime: RuntimeDep) -> SeatRead:
    """Your seat: state, reason, capacity, skills, languages and current load."""
    return await runtime.db.read(seats.read_seat, me.user_id)


@router.put("/agents/me/state", tags=["agents"])
async def set_my_state(data: StateChange, me: Self, runtime: RuntimeDep) -> SeatRead:
    """Set your state: available, break (with a reason code), after_call_work or offline."""
    return await retry.write(runtime, seats.change_state, me, me.user_id, data)


@router.post("/agents/me/heartbeat", status_code=204, tags=["agents"])
async def heartbeat(me: Self, runtime: RuntimeDep) -> Response:
    """For clients without the routing socket: keeps you from being set offline."""
    await retry.write(runtime, seats.heartbeat, me.user_id)
    return Response(status_code=204)


@router.get("/agents", tags=["agents"])
async def list_seats(me: Reader, runtime: RuntimeDep) -> list[SeatRead]:
    return await runtime.db.read(seats.list_seats)


@router.get("/agents/me/work", tags=["agents"])
async def my_work(
    me: Self, runtime: RuntimeDep, limit: int = Query(100, ge=1, le=500)
) -> list[WorkRead]:
    """The work you hold now (accepted, not yet finished), oldest first."""
    return await runtime.db.read(work.held_work, me.user_id, limit)


@router.get("/agents/{user_id}", tags=["agents"])
async def get_seat(user_id: int, me: Reader, runtime: RuntimeDep) -> SeatRead:
    return await runtime.db.read(seats.read_seat, user_id)


@router.put("/agents/{user_id}/state", tags=["agents"])
async def set_state(
    user_id: int, data: StateChange, me: Supervisor, runtime: RuntimeDep
) -> SeatRead:
    """A supervisor sets an agent's state."""
    return await retry.write(runtime, seats.change_state, me, user_id, data)


@router.patch("/agents/{user_id}/seat", tags=["agents"])
async def update_seat(user_id: int, data: SeatUpdate, me: Admin, runtime: RuntimeDep) -> SeatRead:
    """Capacity per media, what excludes what, skills with levels, languages."""
    return await retry.write(runtime, seats.update_seat, user_id, data)


@router.get("/agents/{user_id}/states", tags=["agents"])
async def state_history(
    user_id: int,
    me: Self,
    runtime: RuntimeDep,
    since: datetime | None = None,
    until: datetime | None = None,
) -> StateHistory:
    """Time in each state (occupancy, utilisation); agents read their own only."""
    if user_id != me.user_id:
        me.check(Action.routing_supervise)
    end = until or runtime.clock.now()
    start = since or end - timedelta(days=1)
    if start >= end:
        raise invalid(["query", "since"], "must be before until")
    spans, seconds = await runtime.db.read(seats.state_history, user_id, start, end)
    occupancy, utilisation = seats.occupancy(seconds)
    return StateHistory(
        user_id=user_id,
        since=start,
        until=end,
        spans=spans,
        seconds=seconds,
        occupancy=occupancy,
        utilisation=utilisation,
    )


# -- break reasons --------------------------------------------------------------------------
@router.get("/routing/break-reasons")
async def list_reasons(me: Self, runtime: RuntimeDep) -> list[BreakReasonRead]:
    return await runtime.db.read(seats.list_reasons)


@router.post("/routing/break-reasons", status_code=201)
async def create_reason(data: BreakReasonIn, me: Admin, runtime: RuntimeDep) -> BreakReasonRead:
    return await retry.write(runtime, seats.create_reason, data)


@router.patch("/routing/break-reasons/{code}")
async def update_reason(
    code: str, data: BreakReasonUpdate, me: Admin, runtime: RuntimeDep
) -> BreakReasonRead:
    return await retry.write(runtime, seats.update_reason, code, data)


# -- offers ---------------------------------------------------------------------------------
@router.get("/routing/offers")
async def my_offers(me: Self, runtime: RuntimeDep) -> list[OfferRead]:
    """Your pending offers, oldest first."""
    return await runtime.db.read(offers.my_offers, me.user_id)


@router.get("/routing/offers/{offer_id}")
async def get_offer(offer_id: int, me: Self, runtime: RuntimeDep) -> OfferRead:
    return await runtime.db.read(offers.get_offer, me, offer_id)


@router.post("/routing/offers/{offer_id}/accept")
async def accept_offer(offer_id: int, me: Self, runtime: RuntimeDep) -> WorkRead:
    """Take the work. 409 when the offer expired or another agent took it first
    (``errors[0].type`` is expired, taken, withdrawn, rejected or accepted)."""
    return await retry.write(runtime, offers.accept_offer, me, offer_id)


@router.post("/routing/offers/{offer_id}/reject")
async def reject_offer(offer_id: int, me: Self, runtime: RuntimeDep) -> OfferRead:
    """Decline: the work goes to the next agent; you get no offer for your cool-down."""
    return await retry.write(runtime, offers.reject_offer, me, offer_id)


# -- queues ---------------------------------------------------------------------------------
@router.get("/routing/queues")
async def list_queues(me: Reader, runtime: RuntimeDep) -> list[QueueRead]:
    return await runtime.db.read(queues.list_queues)


@router.post("/routing/queues", status_code=201)
async def create_queue(data: QueueCreate, me: Admin, runtime: RuntimeDep) -> QueueRead:
    """A queue nobody could serve is accepted, with ``servable: false`` and a warning."""
    return await retry.write(runtime, queues.create_queue, data)


@router.get("/routing/queues/{queue_id}")
async def get_queue(queue_id: int, me: Reader, runtime: RuntimeDep) -> QueueRead:
    return await runtime.db.read(queues.get_queue, queue_id)


@router.patch("/routing/queues/{queue_id}")
async def update_queue(
    queue_id: int, data: QueueUpdate, me: Admin, runtime: RuntimeDep
) -> QueueRead:
    return await retry.write(runtime, queues.update_queue, queue_id, data)


@router.delete("/routing/queues/{queue_id}", status_code=204)
async def delete_queue(queue_id: int, me: Admin, runtime: RuntimeDep) -> Response:
    await retry.write(runtime, queues.delete_queue, queue_id)
    return Response(status_code=204)


@router.get("/routing/queues/{queue_id}/stats")
async def queue_stats(
    queue_id: int, me: Reader, runtime: RuntimeDep, window_s: WINDOW = 86400
) -> QueueStats:
    """Waiting, longest wait, service level, abandon rate, ASA, agents by state."""
    return await runtime.db.read(queues.queue_stats, queue_id, window_s)


@router.get("/routing/queues/{queue_id}/items")
async def waiting_items(
    queue_id: int, me: Supervisor, runtime: RuntimeDep, limit: int = Query(50, ge=1, le=500)
) -> list[WorkRead]:
    """The work waiting (or being offered) in a queue, oldest first."""
    await runtime.db.read(queues.get_queue_row, queue_id)
    return await runtime.db.read(work.waiting_work, queue_id, limit)


@router.get("/routing/wallboard")
async def wallboard(me: Supervisor, runtime: RuntimeDep, window_s: WINDOW = 86400) -> Wallboard:
    return await runtime.db.read(queues.wallboard, window_s)


# -- work items -----------------------------------------------------------------------------
@router.post("/routing/items", status_code=201)
async def enqueue(data: WorkIn, me: Worker, runtime: RuntimeDep) -> WorkRead:
    """Put work in a queue. Voice: enqueue the call, then read the item (``wait_s``) to
    learn which agents to ring, and post ``answer`` when one picks up."""
    return await retry.write(runtime, work.enqueue_work, data, me)


@router.get("/routing/items/{item_id}")
async def get_item(
    item_id: int,
    me: Worker,
    runtime: RuntimeDep,
    wait_s: Annotated[float, Query(ge=0, le=30, description="Wait for an offer or change")] = 0,
) -> WorkRead:
    """The item with its pending offers (``ring``: the agents to ring). With ``wait_s``,
    answers as soon as the item is offered or changes, or when the time is up."""
    item = await runtime.db.read(work.get_work, item_id)
    if wait_s and item.status == "waiting":
        await _wait_for_item(runtime, item_id, wait_s)
        item = await runtime.db.read(work.get_work, item_id)
    return item


async def _wait_for_item(runtime: Runtime, item_id: int, wait_s: float) -> None:
    changed = asyncio.Event()

    def watch(event: Event) -> None:
        if event.payload.get("item_id") == item_id:
            changed.set()

    unsubscribe = runtime.bus.subscribe("routing.*", watch)
    try:
        await asyncio.wait_for(changed.wait(), wait_s)
    except TimeoutError:
        pass
    finally:
        unsubscribe()


@router.post("/routing/items/{item_id}/answer")
async def answer(item_id: int, data: Answered, me: Worker, runtime: RuntimeDep) -> WorkRead:
    """The CTI reports that this agent picked up the ringing call (an agent's own token
    answers only for that agent)."""
    if data.agent_id != me.user_id:
        me.check(Action.routing_supervise)
    return await retry.write(runtime, offers.answer_call, item_id, data.agent_id)


@router.post("/routing/items/{item_id}/complete")
async def complete(item_id: int, me: Worker, runtime: RuntimeDep) -> WorkRead:
    """Done with the work: capacity comes back after the queue's wrap-up time."""
    return await retry.write(runtime, work.complete_work, me, item_id)


@router.post("/routing/items/{item_id}/abandon")
async def abandon(item_id: int, me: Worker, runtime: RuntimeDep) -> WorkRead:
    """The customer left before an agent took the work (counts in the abandon rate)."""
    return await retry.write(runtime, work.abandon_work, item_id)


@router.post("/routing/items/{item_id}/reassign")
async def reassign(item_id: int, data: Reassign, me: Supervisor, runtime: RuntimeDep) -> WorkRead:
    """Give the work to an agent (within their capacity) or, with no agent, back to its
    queue first in line."""
    return await retry.write(runtime, work.reassign, me, item_id, data.agent_id)
