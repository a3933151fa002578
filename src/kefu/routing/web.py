"""Routing in the browser: the agent's state control and offer cards in the workspace
header (the ``header`` slot), and the supervisor's live wallboard (``/wallboard``, linked
from the ``nav`` slot). Both pages keep one routing socket open (``routing.js``); a message
on it makes the page fetch the changed part again, so the words come from the templates in
the reader's language and nothing polls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from kefu.db import Ctx
from kefu.routing import offers, queues, retry, work
from kefu.routing import service as seats
from kefu.routing.core import AgentState
from kefu.routing.schemas import (
    BreakReasonRead,
    OfferRead,
    Reassign,
    SeatRead,
    StateChange,
    Wallboard,
    WorkRead,
)
from kefu.routing.transitions import OfferGone
from kefu.security.deps import RuntimeDep
from kefu.security.permissions import Action, Principal
from kefu.web import forms, slots
from kefu.web.auth import allowed
from kefu.web.render import render

router = APIRouter(include_in_schema=False)
Agent = Annotated[Principal, Depends(allowed(Action.routing_self))]
Supervisor = Annotated[Principal, Depends(allowed(Action.routing_supervise))]
SEAT = "routing/_seat.html"
BOARD = "routing/_board.html"


def install() -> None:
    slots.register("header", "routing/_header.html")
    slots.register("nav", "routing/_nav.html")


@dataclass
class SeatView:
    seat: SeatRead
    reasons: list[BreakReasonRead]
    offers: list[OfferRead]

    def reason_label(self, code: str | None) -> str | None:
        return next((r.label for r in self.reasons if r.code == code), None)


def seat_view(ctx: Ctx, user_id: int) -> SeatView:
    reasons = [r for r in seats.list_reasons(ctx) if r.active and not r.system]
    return SeatView(seats.read_seat(ctx, user_id), reasons, offers.my_offers(ctx, user_id))


async def _seat(
    request: Request, me: Principal, runtime: RuntimeDep, notice: str | None
) -> Response:
    view = await runtime.db.read(seat_view, me.user_id)
    return render(request, SEAT, {"me": me, "view": view, "notice": notice})


@router.get("/seat")
async def seat_part(request: Request, me: Agent, runtime: RuntimeDep) -> Response:
    """The state control and the pending offers (the header fetches it)."""
    return await _seat(request, me, runtime, None)


@router.post("/seat/state")
async def seat_state(request: Request, me: Agent, runtime: RuntimeDep) -> Response:
    form = await request.form()
    state, _, reason = (forms.text(form, "choice") or "").partition(":")
    data = forms.parse(StateChange, {"state": state, "reason": reason or None})
    await retry.write(runtime, seats.change_state, me, me.user_id, data)
    return await _seat(request, me, runtime, None)


@router.post("/seat/offers/{offer_id}/accept")
async def seat_accept(request: Request, me: Agent, runtime: RuntimeDep, offer_id: int) -> Response:
    try:
        item = await retry.write(runtime, offers.accept_offer, me, offer_id)
    except OfferGone as gone:
        return await _seat(request, me, runtime, gone.reason)
    if item.ticket_id is not None:
        return forms.redirect(f"/tickets/{item.ticket_id}", htmx=forms.is_htmx(request))
    return await _seat(request, me, runtime, "accepted")


@router.post("/seat/offers/{offer_id}/reject")
async def seat_reject(request: Request, me: Agent, runtime: RuntimeDep, offer_id: int) -> Response:
    try:
        await retry.write(runtime, offers.reject_offer, me, offer_id)
    except OfferGone as gone:
        return await _seat(request, me, runtime, gone.reason)
    return await _seat(request, me, runtime, None)


# -- the wallboard --------------------------------------------------------------------------
@dataclass
class BoardView:
    board: Wallboard
    reasons: list[BreakReasonRead]

    def reason_label(self, code: str | None) -> str | None:
        return next((r.label for r in self.reasons if r.code == code), None)


def board_view(ctx: Ctx) -> BoardView:
    reasons = [r for r in seats.list_reasons(ctx) if r.active]
    return BoardView(queues.wallboard(ctx), reasons)


async def _board(request: Request, me: Principal, runtime: RuntimeDep) -> Response:
    view = await runtime.db.read(board_view)
    context = {"me": me, "view": view, "section": "wallboard", "states": list(AgentState)}
    return render(request, "routing/wallboard.html", context, partial=BOARD)


@router.get("/wallboard")
async def wallboard(request: Request, me: Supervisor, runtime: RuntimeDep) -> Response:
    """Queues in big numbers, agents as tiles by state; updated live."""
    return await _board(request, me, runtime)


@router.post("/wallboard/agents/{user_id}/state")
async def board_state(
    request: Request, me: Supervisor, runtime: RuntimeDep, user_id: int
) -> Response:
    form = await request.form()
    state, _, reason = (forms.text(form, "choice") or "").partition(":")
    data = forms.parse(StateChange, {"state": state, "reason": reason or None})
    await retry.write(runtime, seats.change_state, me, user_id, data)
    return await _board(request, me, runtime)


@router.get("/wallboard/queues/{queue_id}/items")
async def board_items(
    request: Request, me: Supervisor, runtime: RuntimeDep, queue_id: int
) -> Response:
    """The work waiting in one queue, each with a way to give it to an agent."""
    await runtime.db.read(queues.get_queue_row, queue_id)
    waiting: list[WorkRead] = await runtime.db.read(work.waiting_work, queue_id, 100)
    agents = await runtime.db.read(seats.list_seats)
    context = {"me": me, "items": waiting, "agents": agents, "queue_id": queue_id}
    return render(request, "routing/_waiting.html", context)


@router.post("/wallboard/items/{item_id}/reassign")
async def board_reassign(
    request: Request, me: Supervisor, runtime: RuntimeDep, item_id: int
) -> Response:
    form = await request.form()
    data = forms.parse(Reassign, {"agent_id": forms.optional_int(form, "agent_id")})
    await retry.write(runtime, work.reassign, me, item_id, data.agent_id)
    return await _board(request, me, runtime)
