"""Offers: the dispatcher's decisions written down, and what agents answer to them.

``make_offer`` is where the database confirms a decision of the router core: it locks the
agents' seats, counts their load, and claims the item with a compare-and-set, so that no
item is ever offered to two agents (ring-all aside) and no agent goes over capacity, even
when two kefu processes decide at the same moment.
"""

from __future__ import annotations

from datetime import timedelta

from kefu.accounts import service as accounts
from kefu.customers import service as customers
from kefu.db import Ctx
from kefu.kit.errors import DomainError, NotFound
from kefu.routing import repository as repo
from kefu.routing import transitions as tr
from kefu.routing.core import READY, Decision, fits
from kefu.routing.models import AgentSeat, Offer, RoutingQueue, WorkItem
from kefu.routing.schemas import OfferRead, WorkRead
from kefu.security.permissions import Principal
from kefu.tickets import service as tickets
from kefu.tickets.schemas import TicketUpdate

TAKEN = "taken by another agent"
GONE = {
    "accepted": "You accepted this offer already",
    "rejected": "You rejected this offer",
    "expired": "The offer expired before it was accepted",
    "withdrawn": "The offer was withdrawn",
}


# -- reads ----------------------------------------------------------------------------------
def describe(ctx: Ctx, item: WorkItem) -> tuple[str, str | None]:
    """(title, customer name) to show on an offer card."""
    title, customer = item.external_ref or f"{item.kind} {item.id}", None
    if item.ticket_id is not None:
        try:
            ticket = tickets.get_ticket(ctx, None, item.ticket_id)
        except DomainError:
            return title, None
        return f"#{ticket.id} {ticket.subject}", ticket.requester.name
    if item.customer_id is not None:
        try:
            customer = customers.get_customer(ctx, item.customer_id).name
        except DomainError:
            customer = None
    return title, customer


def offer_read(ctx: Ctx, offer: Offer, item: WorkItem, queue: RoutingQueue) -> OfferRead:
    title, customer = describe(ctx, item)
    now = ctx.now()
    return OfferRead(
        id=offer.id,
        item_id=item.id,
        agent_id=offer.agent_id,
        status=offer.status,
        ring=offer.ring,
        reason=offer.reason,
        created_at=offer.created_at,
        expires_at=offer.expires_at,
        decided_at=offer.decided_at,
        seconds_left=max(0.0, (offer.expires_at - now).total_seconds())
        if offer.status == "pending"
        else 0.0,
        kind=item.kind,
        media=item.media,
        queue_id=queue.id,
        queue_name=queue.name,
        ticket_id=item.ticket_id,
        external_ref=item.external_ref,
        title=title,
        customer_name=customer,
        priority=item.priority,
        tier=item.tier,
        waited_s=(now - item.enqueued_at).total_seconds(),
    )


def _read(ctx: Ctx, offer: Offer) -> OfferRead:
    item = repo.get_item(ctx.session, offer.item_id)
    assert item is not None
    queue = repo.get_queue(ctx.session, item.queue_id)
    assert queue is not None
    return offer_read(ctx, offer, item, queue)


def my_offers(ctx: Ctx, user_id: int) -> list[OfferRead]:
    return [_read(ctx, o) for o in repo.pending_offers_of_agent(ctx.session, user_id)]


def offer_by_id(ctx: Ctx, offer_id: int) -> OfferRead:
    offer = repo.get_offer(ctx.session, offer_id)
    if offer is None:
        raise NotFound("Offer", offer_id)
    return _read(ctx, offer)


def get_offer(ctx: Ctx, actor: Principal, offer_id: int) -> OfferRead:
    return _read(ctx, _own_offer(ctx, actor, offer_id))


def work_read(ctx: Ctx, item: WorkItem) -> WorkRead:
    pending = repo.pending_offers_of_item(ctx.session, item.id) if item.status == "offered" else []
    cards: list[OfferRead] = []
    if pending:  # the cards show the queue
        queue = repo.get_queue(ctx.session, item.queue_id)
        assert queue is not None
        cards = [offer_read(ctx, o, item, queue) for o in pending]
    return WorkRead(
        id=item.id,
        queue_id=item.queue_id,
        kind=item.kind,
        ticket_id=item.ticket_id,
        external_ref=item.external_ref,
        customer_id=item.customer_id,
        media=item.media,
        skills=dict(item.skills),
        language=item.language,
        team_id=item.team_id,
        priority=item.priority,
        tier=item.tier,
        sla_due_at=item.sla_due_at,
        status=item.status,
        front=item.front,
        agent_id=item.agent_id,
        enqueued_at=item.enqueued_at,
        assigned_at=item.assigned_at,
        ended_at=item.ended_at,
        end_reason=item.end_reason,
        wait_s=item.wait_s,
        offers=cards,
        ring=sorted(o.agent_id for o in pending),
    )


# -- the dispatcher's decisions -------------------------------------------------------------
def seat_fits(seat: AgentSeat | None, load: dict[str, int], media: str, ctx: Ctx) -> bool:
    if seat is None or seat.state not in READY:
        return False
    if seat.cooldown_until is not None and seat.cooldown_until > ctx.now():
        return False
    return fits(seat.capacity, seat.blocks, load, media)


def make_offer(ctx: Ctx, decision: Decision, router: str | None = None) -> bool:
    """Write one decision of the router core, if the database still agrees with it.
    ``router`` names the deciding dispatcher, which need not read back what it wrote."""
    seats = repo.lock_seats(ctx.session, decision.agent_ids)
    item = repo.get_item(ctx.session, decision.item_id)
    if item is None or item.status != "waiting" or item.queue_id != decision.queue_id:
        return False
    loads = repo.load_of(ctx.session, list(decision.agent_ids))
    agents = [a for a in decision.agent_ids if seat_fits(seats.get(a), loads[a], item.media, ctx)]
    ring = len(decision.agent_ids) > 1
    if not agents or (not ring and len(agents) != 1):
        return False
    queue = repo.get_queue(ctx.session, item.queue_id)
    assert queue is not None
    now = ctx.now()
    values = {"status": "offered", "offers_made": item.offers_made + len(agents), "updated_at": now}
    if not repo.claim_loaded_item(ctx.session, item, ("waiting",), values):
        return False
    for agent_id in agents:
        offer = _new_offer(ctx, item, agent_id, ring, queue)
        seats[agent_id].idle_since = now
        tr.touch(ctx, seats[agent_id])
        if decision.auto_accept:
            assign(ctx, item, seats[agent_id], None, offer)
        else:
            # The card itself rides on the event: the agent's socket needs no read.
            card = offer_read(ctx, offer, item, queue).model_dump(mode="json")
            ctx.emit(
                "routing.offer.created",
                offer_id=offer.id,
                item_id=item.id,
                agent_id=agent_id,
                queue_id=queue.id,
                kind=item.kind,
                media=item.media,
                offer=card,
                router=router,
            )
    # A ring the database narrowed is written, but the router must read it back.
    return len(agents) == len(decision.agent_ids)


def _new_offer(ctx: Ctx, item: WorkItem, agent_id: int, ring: bool, queue: RoutingQueue) -> Offer:
    now = ctx.now()
    offer = Offer(
        item_id=item.id,
        agent_id=agent_id,
        status="pending",
        ring=ring,
        created_at=now,
        expires_at=now + timedelta(seconds=queue.offer_timeout_s),
    )
    repo.add_offer(ctx.session, offer)
    return offer


# -- answers --------------------------------------------------------------------------------
def _own_offer(ctx: Ctx, actor: Principal, offer_id: int) -> Offer:
    offer = repo.get_offer(ctx.session, offer_id)
    if offer is None or offer.agent_id != actor.user_id:
        raise NotFound("Offer", offer_id)
    return offer


def _pending(ctx: Ctx, offer_id: int, user_id: int) -> tuple[Offer, AgentSeat]:
    """Lock the agent's seat, then read the offer (what it says under the lock counts):
    it must be theirs and still open."""
    seat = repo.get_seat(ctx.session, user_id, lock=True)
    offer = repo.get_offer(ctx.session, offer_id, fresh=True)
    if offer is None or seat is None or offer.agent_id != user_id:
        raise NotFound("Offer", offer_id)
    if offer.status != "pending":
        raise _gone(offer)
    if ctx.now() >= offer.expires_at:
        raise tr.OfferGone(offer.id, "expired", GONE["expired"])
    return offer, seat


def _gone(offer: Offer) -> tr.OfferGone:
    if offer.status == "withdrawn" and offer.reason == TAKEN:
        return tr.OfferGone(offer.id, "taken", "Another agent took this work first")
    message = GONE.get(offer.status, "The offer is closed")
    if offer.status == "withdrawn" and offer.reason:
        message = f"{message} ({offer.reason})"
    return tr.OfferGone(offer.id, offer.status, message)


def accept_offer(ctx: Ctx, actor: Principal, offer_id: int) -> WorkRead:
    offer, seat = _pending(ctx, offer_id, actor.user_id)
    item = repo.lock_item(ctx.session, offer.item_id)
    assert item is not None
    assign(ctx, item, seat, actor, offer)
    return work_read(ctx, item)


def reject_offer(ctx: Ctx, actor: Principal, offer_id: int) -> OfferRead:
    offer, seat = _pending(ctx, offer_id, actor.user_id)
    tr.settle_offer(ctx, offer, "rejected", "rejected by the agent")
    tr.cool_down(ctx, seat)
    ctx.session.refresh(offer)
    return _read(ctx, offer)


def answer_call(ctx: Ctx, item_id: int, agent_id: int) -> WorkRead:
    """The CTI reports that ``agent_id`` picked up: their pending offer is accepted."""
    offers = [
        o for o in repo.pending_offers_of_item(ctx.session, item_id) if o.agent_id == agent_id
    ]
    if not offers:
        raise tr.OfferGone(0, "not_offered", f"Item {item_id} is not ringing agent {agent_id}")
    offer, seat = _pending(ctx, offers[0].id, agent_id)
    item = repo.lock_item(ctx.session, item_id)
    assert item is not None
    assign(ctx, item, seat, None, offer)
    return work_read(ctx, item)


def expire_due(ctx: Ctx, limit: int = 200) -> int:
    """Offers nobody answered in time: the item goes back first in line, the agent cools
    down, and after ``max_no_answer`` misses in a row goes on break."""
    due = repo.due_offers(ctx.session, ctx.now(), limit)
    seats = repo.lock_seats(ctx.session, [o.agent_id for o in due])
    expired = 0
    for offer in due:
        if tr.settle_offer(ctx, offer, "expired", "no answer in time"):
            expired += 1
            tr.missed(ctx, seats[offer.agent_id], offer)
    return expired


# -- assignment -----------------------------------------------------------------------------
def assign(
    ctx: Ctx, item: WorkItem, seat: AgentSeat, actor: Principal | None, offer: Offer | None
) -> None:
    """The agent takes the item: offers settled, the ticket assigned to them, seat busy."""
    now = ctx.now()
    previous = item.agent_id
    if offer is not None:
        # The offer is claimed first: of two agents accepting a ring-all call at once, the
        # second waits for the first's row lock, then finds its offer withdrawn.
        if not repo.decide_offer(ctx.session, offer.id, "accepted", None, now):
            ctx.session.refresh(offer)
            raise _gone(offer)
        ctx.emit(
            "routing.offer.accepted", offer_id=offer.id, item_id=item.id, agent_id=seat.user_id
        )
    values = {
        "status": "assigned",
        "agent_id": seat.user_id,
        "assigned_at": now,
        "wait_s": item.wait_s if item.wait_s is not None else _waited(item, ctx),
        "updated_at": now,
    }
    expected = ("offered",) if offer is not None else ("waiting", "offered", "assigned")
    if not repo.claim_loaded_item(ctx.session, item, expected, values):
        raise tr.OfferGone(offer.id if offer else 0, "withdrawn", "The work item has ended")
    for other in repo.pending_offers_of_item(ctx.session, item.id):
        tr.settle_offer(ctx, other, "withdrawn", TAKEN)
    seat.missed_in_row = 0
    tr.refresh_busy(ctx, seat)
    if item.ticket_id is not None:
        _assign_ticket(ctx, item, seat.user_id, actor)
    ctx.emit(
        "routing.item.assigned",
        item_id=item.id,
        agent_id=seat.user_id,
        previous_agent_id=previous,
        ticket_id=item.ticket_id,
        queue_id=item.queue_id,
    )


def _waited(item: WorkItem, ctx: Ctx) -> float:
    return max(0.0, (ctx.now() - item.enqueued_at).total_seconds())


def _assign_ticket(ctx: Ctx, item: WorkItem, agent_id: int, actor: Principal | None) -> None:
    assert item.ticket_id is not None
    ticket = tickets.get_ticket(ctx, None, item.ticket_id)
    team_id = item.team_id
    if team_id is None and ticket.team is not None:
        member = ticket.team.id in accounts.get_user(ctx, agent_id).team_ids
        team_id = ticket.team.id if member else None
    if (
        ticket.assignee is not None
        and ticket.assignee.id == agent_id
        and ((ticket.team.id if ticket.team else None) == team_id)
    ):
        return
    update = TicketUpdate(assignee_id=agent_id, team_id=team_id)
    try:
        tickets.update_ticket(ctx, actor, item.ticket_id, update)
    except NotFound:
        # The agent may not see a private team's ticket before it is theirs.
        tickets.update_ticket(ctx, None, item.ticket_id, update)
