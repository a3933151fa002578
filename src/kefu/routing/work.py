"""Work items: how work enters the router (``enqueue_work``, ticket events), how it leaves
(completed, abandoned, cancelled), and what supervisors do with it (reassign)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from kefu.customers import service as customers
from kefu.db import Ctx
from kefu.kit.errors import Conflict, DomainError, Forbidden, NotFound, invalid
from kefu.routing import offers
from kefu.routing import repository as repo
from kefu.routing import service as seats
from kefu.routing import transitions as tr
from kefu.routing.convert import item_spec
from kefu.routing.core import ItemSpec
from kefu.routing.models import RoutingQueue, WorkItem
from kefu.routing.schemas import WorkIn, WorkRead, media_of
from kefu.security.permissions import Principal
from kefu.tickets import service as tickets
from kefu.tickets.models import Status
from kefu.tickets.schemas import TicketRead, TicketUpdate

ROUTABLE = (Status.new.value, Status.open.value)
LEAVES_QUEUE = (Status.pending, Status.on_hold, Status.solved, Status.closed)


def _item(ctx: Ctx, item_id: int) -> WorkItem:
    item = repo.get_item(ctx.session, item_id)
    if item is None:
        raise NotFound("Work item", item_id)
    return item


def get_work(ctx: Ctx, item_id: int) -> WorkRead:
    return offers.work_read(ctx, _item(ctx, item_id))


def held_work(ctx: Ctx, agent_id: int, limit: int = 100) -> list[WorkRead]:
    return [offers.work_read(ctx, i) for i in repo.held_items(ctx.session, agent_id, limit)]


def waiting_work(ctx: Ctx, queue_id: int, limit: int = 50) -> list[WorkRead]:
    return [offers.work_read(ctx, i) for i in repo.waiting_items(ctx.session, queue_id, limit)]


# -- entering -------------------------------------------------------------------------------
def enqueue_work(ctx: Ctx, data: WorkIn, actor: Principal | None = None) -> WorkRead:
    """Put work in a queue (channels, rules, the CTI and integrations call this; ``actor``
    None is kefu itself, a user may route only tickets they can see).

    Enqueueing the same ticket or the same external reference twice answers the item that
    is already there."""
    ticket = _ticket_for(ctx, data, actor)
    existing = (
        repo.active_item_of_ticket(ctx.session, data.ticket_id)
        if data.ticket_id is not None
        else repo.item_by_ref(ctx.session, data.external_ref or "")
    )
    if existing is not None:
        return offers.work_read(ctx, existing)
    team_id = data.team_id or (ticket.team.id if ticket and ticket.team else None)
    queue = _queue_for(ctx, data.queue_id, team_id)
    item = _new_item(ctx, data, queue, ticket)
    item.team_id = team_id if team_id is not None else queue.team_id
    repo.add_item(ctx.session, item)
    ctx.emit(
        "routing.item.queued",
        item_id=item.id,
        queue_id=queue.id,
        ticket_id=item.ticket_id,
        kind=item.kind,
        spec=asdict(item_spec(item)),  # the new row itself: the dispatcher needs no read
    )
    return offers.work_read(ctx, item)


def _ticket_for(ctx: Ctx, data: WorkIn, actor: Principal | None) -> TicketRead | None:
    if data.ticket_id is None:
        return None
    try:
        return tickets.get_ticket(ctx, actor, data.ticket_id)
    except NotFound:
        raise invalid(["body", "ticket_id"], f"no ticket {data.ticket_id}") from None


def _queue_for(ctx: Ctx, queue_id: int | None, team_id: int | None) -> RoutingQueue:
    if queue_id is not None:
        queue = repo.get_queue(ctx.session, queue_id)
        if queue is None:
            raise invalid(["body", "queue_id"], f"no queue {queue_id}")
        return queue
    found = repo.queues_for_team(ctx.session, team_id) if team_id is not None else []
    if not found:
        raise invalid(["body", "queue_id"], "name the queue (no queue serves this team)")
    return found[0]


def _new_item(ctx: Ctx, data: WorkIn, queue: RoutingQueue, ticket: TicketRead | None) -> WorkItem:
    now = ctx.now()
    customer_id = ticket.requester.id if ticket else data.customer_id
    language = data.language or (ticket.language if ticket else None)
    priority = data.priority.value
    if ticket is not None and "priority" not in data.model_fields_set:
        priority = ticket.priority.value
    sticky = _sticky_agent(ctx, queue, customer_id)
    return WorkItem(
        queue_id=queue.id,
        kind=data.kind,
        ticket_id=data.ticket_id,
        external_ref=data.external_ref,
        customer_id=customer_id,
        media=data.media or media_of(ticket.channel if ticket else data.kind),
        skills=_merge_skills(queue.skills, data.skills),
        language=language if queue.match_language else None,
        priority=priority,
        tier=data.tier or _tier(ctx, customer_id),
        sla_due_at=data.sla_due_at,
        sticky_agent_id=sticky,
        sticky_until=now + timedelta(seconds=queue.sticky_wait_s) if sticky else None,
        status="waiting",
        front=False,
        overflow_step=0,
        offers_made=0,
        enqueued_at=now,
        queue_entered_at=now,
        version=1,
        updated_at=now,
    )


def _merge_skills(base: dict[str, int], extra: dict[str, int]) -> dict[str, int]:
    merged = dict(base)
    for name, level in extra.items():
        merged[name] = max(level, merged.get(name, 0))
    return merged


def _tier(ctx: Ctx, customer_id: int | None) -> str:
    if customer_id is None:
        return "standard"
    try:
        return customers.get_customer(ctx, customer_id).tier
    except DomainError:
        return "standard"


def _sticky_agent(ctx: Ctx, queue: RoutingQueue, customer_id: int | None) -> int | None:
    if not (queue.sticky_window_s and queue.sticky_wait_s and customer_id):
        return None
    since = ctx.now() - timedelta(seconds=queue.sticky_window_s)
    return repo.last_agent_of_customer(ctx.session, customer_id, since)


def enqueue_ticket(ctx: Ctx, ticket_id: int, queue_id: int | None = None) -> WorkRead | None:
    """Route a ticket (by its team's queue unless one is named); None if none serves it."""
    # The bare ticket decides: this runs after every ticket created with a team and every
    # status change, and the read model (``tickets.get_ticket``, six queries) is built only
    # for a ticket that goes into a queue (``enqueue_work``). Its head is one Core row.
    ticket = tickets.ticket_head(ctx, None, ticket_id)
    if ticket.status not in ROUTABLE or ticket.assignee_id is not None:
        return None
    if queue_id is None:
        queue = _ticket_queue(ctx, ticket.team_id, ticket.channel)
        if queue is None:
            return None
        queue_id = queue.id
    return enqueue_work(ctx, WorkIn(kind="ticket", ticket_id=ticket_id, queue_id=queue_id))


def _ticket_queue(ctx: Ctx, team_id: int | None, channel: str) -> RoutingQueue | None:
    if team_id is None:
        return None
    for queue in repo.queues_for_team(ctx.session, team_id):
        if not queue.channels or channel in queue.channels:
            return queue
    return None


# -- leaving --------------------------------------------------------------------------------
def complete_work(ctx: Ctx, actor: Principal | None, item_id: int) -> WorkRead:
    """The agent is done with the item; the queue's wrap-up time starts."""
    item = _item(ctx, item_id)
    if actor is not None and not actor.sees_all_tickets and item.agent_id != actor.user_id:
        raise Forbidden("Only the agent handling this work, or a supervisor, may finish it")
    if item.status != "assigned" or item.agent_id is None:
        raise Conflict(f"Work item {item_id} is {item.status}, not being handled")
    _finish(ctx, item, "completed", "completed")
    return offers.work_read(ctx, item)


def _finish(ctx: Ctx, item: WorkItem, status: str, reason: str) -> None:
    """End an item; whoever held it or was offered it gets their capacity back."""
    holders = [o.agent_id for o in repo.pending_offers_of_item(ctx.session, item.id)]
    holder = item.agent_id if item.status == "assigned" else None
    locked = repo.lock_seats(ctx.session, [*holders, *([holder] if holder else [])])
    if not tr.end_item(ctx, item, status, reason):
        raise Conflict(f"Work item {item.id} changed at the same time; try again")
    ctx.session.refresh(item)
    if holder is not None and holder in locked:
        queue = repo.get_queue(ctx.session, item.queue_id)
        wrap_up = queue.wrap_up_s if queue is not None and status == "completed" else 0
        seats.start_wrap_up(ctx, locked[holder], wrap_up)


def abandon_work(ctx: Ctx, item_id: int) -> WorkRead:
    """The customer gave up (hung up, left the chat) before an agent took it."""
    item = _item(ctx, item_id)
    if item.status not in ("waiting", "offered"):
        raise Conflict(f"Work item {item_id} is {item.status}; only waiting work is abandoned")
    _finish(ctx, item, "abandoned", "abandoned by the customer")
    return offers.work_read(ctx, item)


def answered_elsewhere(ctx: Ctx, ticket_ids: Iterable[int], reason: str) -> None:
    for ticket_id in ticket_ids:
        item = repo.active_item_of_ticket(ctx.session, ticket_id)
        if item is not None:
            status = "completed" if item.status == "assigned" else "cancelled"
            _finish(ctx, item, status, reason)


# -- supervisors ----------------------------------------------------------------------------
def reassign(ctx: Ctx, actor: Principal, item_id: int, agent_id: int | None) -> WorkRead:
    """Give the item to another agent (within their capacity), or back to its queue."""
    item = _item(ctx, item_id)
    if item.status not in ("waiting", "offered", "assigned"):
        raise Conflict(f"Work item {item_id} has ended ({item.status})")
    holders = [o.agent_id for o in repo.pending_offers_of_item(ctx.session, item.id)]
    old = item.agent_id if item.status == "assigned" else None
    wanted = [*holders, *([old] if old else []), *([agent_id] if agent_id else [])]
    locked = repo.lock_seats(ctx.session, wanted)
    if agent_id is not None:
        _give(ctx, actor, item, agent_id, locked)
    else:
        _requeue(ctx, actor, item)
    if old is not None and old != agent_id and old in locked:
        tr.refresh_busy(ctx, locked[old])
    return offers.work_read(ctx, item)


def _give(
    ctx: Ctx, actor: Principal, item: WorkItem, agent_id: int, locked: dict[int, Any]
) -> None:
    seat = locked.get(agent_id) or seats.ensure_seat(ctx, agent_id)
    load = repo.load_of(ctx.session, [agent_id])[agent_id]
    if item.agent_id == agent_id and item.status == "assigned":
        return
    if not offers.fits(seat.capacity, seat.blocks, load, item.media):
        raise Conflict(f"Agent {agent_id} has no room for more {item.media} work")
    for offer in repo.pending_offers_of_item(ctx.session, item.id):
        tr.settle_offer(ctx, offer, "withdrawn", "reassigned by a supervisor")
    ctx.session.refresh(item)
    offers.assign(ctx, item, seat, actor, None)


def _requeue(ctx: Ctx, actor: Principal, item: WorkItem) -> None:
    for offer in repo.pending_offers_of_item(ctx.session, item.id):
        tr.settle_offer(ctx, offer, "withdrawn", "returned to the queue by a supervisor")
    ctx.session.refresh(item)
    if item.status == "assigned":
        values = {"status": "waiting", "front": True, "agent_id": None, "updated_at": ctx.now()}
        repo.claim_item(ctx.session, item.id, ("assigned",), values)
        if item.ticket_id is not None:
            tickets.update_ticket(ctx, actor, item.ticket_id, TicketUpdate(assignee_id=None))
        ctx.emit("routing.item.requeued", item_id=item.id)
    ctx.session.refresh(item)


# -- ticket events --------------------------------------------------------------------------
# Only these changes move a ticket in or out of a queue: the event subscriptions
# (``routing.tasks``) ask before queueing a write job, so the other changes (subject,
# priority, tags, fields, a first response) and tickets created without a team cost the
# writer nothing.
ROUTING_FIELDS = frozenset({"team_id", "status", "assignee_id"})


def routes_new_ticket(payload: dict[str, Any]) -> bool:
    return payload.get("assignee_id") is None and payload.get("team_id") is not None


def concerns_routing(changes: list[dict[str, Any]]) -> bool:
    return any(c["field"] in ROUTING_FIELDS for c in changes)


def on_ticket_created(ctx: Ctx, payload: dict[str, Any]) -> None:
    if routes_new_ticket(payload):
        enqueue_ticket(ctx, int(payload["ticket_id"]))


def on_ticket_updated(ctx: Ctx, ticket_id: int, changes: list[dict[str, Any]]) -> None:
    """Keep the router in step with what people do to the ticket directly."""
    if not concerns_routing(changes):
        return
    changed = {c["field"]: c.get("new") for c in changes}
    item = repo.active_item_of_ticket(ctx.session, ticket_id)
    if item is None:
        _enqueue_quietly(ctx, ticket_id)
        return
    assignee = changed.get("assignee_id")
    if assignee is not None and int(assignee) != item.agent_id:
        status = "completed" if item.status == "assigned" else "cancelled"
        _finish(ctx, item, status, "assigned by hand")
    elif changed.get("status") in LEAVES_QUEUE:
        status = "completed" if item.status == "assigned" else "cancelled"
        _finish(ctx, item, status, f"ticket {changed['status']}")
    elif "team_id" in changed and item.status in ("waiting", "offered"):
        _finish(ctx, item, "cancelled", "moved to another team")
        _enqueue_quietly(ctx, ticket_id)


def _enqueue_quietly(ctx: Ctx, ticket_id: int) -> None:
    try:
        enqueue_ticket(ctx, ticket_id)
    except NotFound:
        return


# -- overflow and stickiness ----------------------------------------------------------------
def save_requirements(ctx: Ctx, specs: list[ItemSpec]) -> None:
    """Write what the router core changed by itself: overflow steps, sticky holds ended."""
    for spec in specs:
        values = {
            "queue_id": spec.queue_id,
            "skills": dict(spec.skills),
            "language": spec.language,
            "team_id": spec.team_id,
            "overflow_step": spec.overflow_step,
            "queue_entered_at": _at(spec.queue_entered_at or spec.enqueued_at),
            "sticky_agent_id": spec.sticky_agent_id,
            "updated_at": ctx.now(),
        }
        if repo.claim_item(ctx.session, spec.id, ("waiting", "offered"), values):
            ctx.emit("routing.item.changed", item_id=spec.id, queue_id=spec.queue_id)


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
