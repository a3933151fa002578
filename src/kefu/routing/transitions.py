"""The state changes of seats, offers and work items, each written in exactly one place.

Every function here runs inside the caller's transaction with the agent's seat row already
locked (``repository.lock_seats``), which is what keeps two processes from counting an
agent's load at the same time. Each change is announced with ``ctx.emit`` so the
dispatcher (and the agents' sockets) learn of it after the commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kefu.db import Ctx
from kefu.kit.errors import DomainError, FieldError
from kefu.routing import repository as repo
from kefu.routing.core import READY, AgentState
from kefu.routing.models import AgentSeat, Offer, WorkItem

DEFAULT_CAPACITY = {"voice": 1, "chat": 3, "email": 10}
MISSED_OFFERS = "missed_offers"
CONNECTION_LOST = "connection_lost"


class OfferGone(DomainError):
    """409: the offer can no longer be accepted; ``errors[0].type`` says why."""

    def __init__(self, offer_id: int, reason: str, detail: str) -> None:
        error = FieldError(["path", "offer_id"], detail, type=reason)
        super().__init__(detail, 409, "Conflict", [error])
        self.reason = reason


def new_seat(ctx: Ctx, user_id: int, language: str | None) -> AgentSeat:
    now = ctx.now()
    seat = AgentSeat(
        user_id=user_id,
        state=AgentState.offline.value,
        state_since=now,
        capacity=dict(DEFAULT_CAPACITY),
        blocks={},
        skills={},
        languages=[language] if language else [],
        max_no_answer=3,
        missed_in_row=0,
        cooldown_s=10,
        idle_since=now,
        version=1,
        updated_at=now,
    )
    repo.add_seat(ctx.session, seat)
    repo.open_span(ctx.session, _span(seat.user_id, seat.state, None, "system", None, now))
    return seat


def _span(
    user_id: int, state: str, reason: str | None, source: str, actor_id: int | None, now: datetime
) -> dict[str, object]:
    return {
        "user_id": user_id,
        "state": state,
        "reason": reason,
        "source": source,
        "actor_id": actor_id,
        "started_at": now,
        "ended_at": None,
    }


def apply_state(
    ctx: Ctx,
    seat: AgentSeat,
    state: str,
    reason: str | None = None,
    *,
    source: str = "system",
    actor_id: int | None = None,
    until: datetime | None = None,
) -> None:
    """Move a (locked) seat to ``state``: history row, offers withdrawn, event."""
    if state in READY:
        busy = repo.assigned_count(ctx.session, seat.user_id) > 0
        state = AgentState.busy.value if busy else AgentState.available.value
    if (seat.state, seat.reason, seat.state_until) == (state, reason, until):
        return
    now = ctx.now()
    previous = seat.state
    if state not in READY:
        withdraw_offers_of(ctx, seat.user_id, f"agent {state}")
    elif previous not in READY:
        seat.idle_since = now
    if state == AgentState.offline:
        seat.heartbeat_at = None
    repo.close_span(ctx.session, seat.user_id, now)
    repo.open_span(ctx.session, _span(seat.user_id, state, reason, source, actor_id, now))
    seat.state, seat.reason, seat.state_until, seat.state_since = state, reason, until, now
    touch(ctx, seat)
    ctx.emit(
        "routing.agent.state",
        user_id=seat.user_id,
        state=state,
        reason=reason,
        previous=previous,
        source=source,
    )


def touch(ctx: Ctx, seat: AgentSeat) -> None:
    seat.version += 1
    seat.updated_at = ctx.now()


def refresh_busy(ctx: Ctx, seat: AgentSeat) -> None:
    """Available <-> busy follows whether the agent holds work."""
    if seat.state in READY:
        apply_state(ctx, seat, seat.state, seat.reason)


def settle_offer(ctx: Ctx, offer: Offer, status: str, reason: str | None = None) -> bool:
    """A pending offer ends (rejected, expired, withdrawn); its item waits again, first in
    line, when no other offer of it is pending. False if the offer was already settled."""
    repo.lock_item(ctx.session, offer.item_id)
    if not repo.decide_offer(ctx.session, offer.id, status, reason, ctx.now()):
        return False
    _announce(ctx, offer, status, reason)
    item_id = offer.item_id
    ctx.session.expire(offer)  # its status changed behind the ORM's back
    if not repo.pending_offers_of_item(ctx.session, item_id):
        values = {"status": "waiting", "front": True, "updated_at": ctx.now()}
        if repo.claim_item(ctx.session, item_id, ("offered",), values):
            ctx.emit("routing.item.requeued", item_id=item_id)
    return True


def _announce(ctx: Ctx, offer: Offer, status: str, reason: str | None) -> None:
    ctx.emit(
        f"routing.offer.{status}",
        offer_id=offer.id,
        item_id=offer.item_id,
        agent_id=offer.agent_id,
        reason=reason,
    )


def withdraw_offers_of(ctx: Ctx, user_id: int, reason: str) -> int:
    offers = repo.pending_offers_of_agent(ctx.session, user_id)
    return sum(settle_offer(ctx, offer, "withdrawn", reason) for offer in offers)


def missed(ctx: Ctx, seat: AgentSeat, offer: Offer) -> None:
    """An unanswered offer: cool the agent down; too many in a row put them on break."""
    cool_down(ctx, seat)
    if offer.ring:
        return
    seat.missed_in_row += 1
    if seat.max_no_answer and seat.missed_in_row >= seat.max_no_answer:
        apply_state(ctx, seat, AgentState.on_break.value, MISSED_OFFERS)


def cool_down(ctx: Ctx, seat: AgentSeat) -> None:
    if seat.cooldown_s > 0:
        seat.cooldown_until = ctx.now() + timedelta(seconds=seat.cooldown_s)
        touch(ctx, seat)


def end_item(ctx: Ctx, item: WorkItem, status: str, reason: str) -> bool:
    """The item leaves the router: completed, abandoned or cancelled."""
    now = ctx.now()
    was, agent_id, queue_id = item.status, item.agent_id, item.queue_id
    values: dict[str, object] = {"status": status, "ended_at": now, "end_reason": reason}
    if status == "abandoned" and item.wait_s is None:
        values["wait_s"] = (now - item.enqueued_at).total_seconds()
    values["updated_at"] = now
    if not repo.claim_item(ctx.session, item.id, (was,), values):
        return False
    for offer in repo.pending_offers_of_item(ctx.session, item.id):
        repo.decide_offer(ctx.session, offer.id, "withdrawn", reason, now)
        _announce(ctx, offer, "withdrawn", reason)
    ctx.session.expire(item)
    ctx.emit(
        "routing.item.ended",
        item_id=item.id,
        status=status,
        reason=reason,
        agent_id=agent_id,
        queue_id=queue_id,
    )
    return True
