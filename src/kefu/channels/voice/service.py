"""Call records from the PBX's events: the customer found by number, the call put on their
ticket and on its timeline, the agent to ring asked of the router (or the team's default
agent), and ``call.*`` events for the agent's workspace (``call.ringing`` pops the
customer's 360 view).

Every handler is idempotent: the PBX may send an event twice, and an event that does not
fit the call's state (a hold after the end) changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from kefu.accounts import service as accounts
from kefu.channels.service import AccountConfig
from kefu.channels.voice import repository as repo
from kefu.channels.voice.ari import CallEvent
from kefu.channels.voice.models import CallRecord
from kefu.channels.voice.schemas import CallRead
from kefu.customers import service as customers
from kefu.customers.identities import DEFAULT_PHONE_REGION, normalise_phone
from kefu.customers.schemas import CustomerCreate
from kefu.db import Ctx
from kefu.kit.errors import Conflict, DomainError, Forbidden, NotFound
from kefu.security.permissions import Principal
from kefu.tickets import service as tickets
from kefu.tickets.schemas import RequesterIn, TicketCreate

log = logging.getLogger(__name__)
CALL_TICKET_WINDOW_S = 3 * 24 * 3600.0  # a caller's open voice ticket takes their next call


def call_read(call: CallRecord) -> CallRead:
    return CallRead.model_validate(call, from_attributes=True)


def apply_event(ctx: Ctx, account: AccountConfig, event: CallEvent) -> CallRead | None:
    if event.kind == "ringing":
        return call_read(_ringing(ctx, account, event))
    call = repo.call_by_channel(ctx.session, account.id, event.channel_ids)
    if call is None:
        log.info("voice %s event for unknown channels %s", event.kind, event.channel_ids)
        return None
    _HANDLERS[event.kind](ctx, account, call, event)
    call.updated_at = ctx.now()
    return call_read(call)


# -- ringing -----------------------------------------------------------------------------
def _ringing(ctx: Ctx, account: AccountConfig, event: CallEvent) -> CallRecord:
    found = repo.call_by_channel(ctx.session, account.id, event.channel_ids[:1])
    if found is not None:
        return found
    region = str(account.settings.get("region") or DEFAULT_PHONE_REGION)
    caller, callee = _number(event.caller, region), _number(event.callee, region)
    inbound = event.direction == "inbound"
    customer_id = _customer(
        ctx, caller if inbound else callee, event.caller_name if inbound else ""
    )
    call = CallRecord(
        account_id=account.id,
        external_id=event.channel_ids[0],
        ticket_id=_ticket(ctx, account, customer_id, caller if inbound else callee, inbound),
        customer_id=customer_id,
        agent_id=None if inbound else _agent_of_extension(account, event.caller),
        direction=event.direction,
        from_number=caller,
        to_number=callee,
        state="ringing",
        ringing_at=event.at,
        hold_s=0,
        created_at=ctx.now(),
        updated_at=ctx.now(),
    )
    repo.add(ctx.session, call)
    _timeline(ctx, call, "ringing", f"{call.direction} call {caller} → {callee}")
    if inbound:
        _route(ctx, account, call)
    _announce_ringing(ctx, call)
    return call


def _number(value: str, region: str) -> str:
    """E.164 when the PBX gave a phone number; extensions and 'anonymous' stay as they are."""
    try:
        return normalise_phone(value, region)
    except ValueError:
        return value.strip()[:40]


def _customer(ctx: Ctx, number: str, name: str) -> int:
    if number.startswith("+"):
        return customers.resolve(ctx, "phone", number, name)
    created = customers.create_customer(
        ctx, CustomerCreate(name=name or f"Caller {number}".strip())
    )
    return created.id  # a withheld number is nobody known: a customer of its own


def _ticket(ctx: Ctx, account: AccountConfig, customer_id: int, number: str, inbound: bool) -> int:
    current = tickets.conversation_ticket(ctx, customer_id, "voice", CALL_TICKET_WINDOW_S)
    if current is not None:
        return current
    subject = f"Call from {number}" if inbound else f"Call to {number}"
    created = tickets.create_ticket(
        ctx,
        None,
        TicketCreate(
            subject=subject,
            requester=RequesterIn(id=customer_id),
            channel="voice",
            team_id=account.team_id,
        ),
    )
    return created.id


def _agent_of_extension(account: AccountConfig, extension: str | None) -> int | None:
    mapping = account.settings.get("extensions") or {}
    agent = mapping.get(str(extension)) if extension else None
    return int(agent) if agent is not None else None


def _route(ctx: Ctx, account: AccountConfig, call: CallRecord) -> None:
    """The router picks the agent (its offer rings them, see ``call_offered``); without a
    queue for this team, the account's default agent, else the team's first member."""
    from kefu.routing.schemas import WorkIn  # the router also reads tickets: import late
    from kefu.routing.work import enqueue_work

    queue_id = account.settings.get("queue_id")
    try:
        item = enqueue_work(
            ctx,
            WorkIn(
                kind="call",
                ticket_id=call.ticket_id,
                customer_id=call.customer_id,
                media="voice",
                queue_id=int(queue_id) if queue_id else None,
                team_id=account.team_id,
            ),
        )
    except DomainError as exc:
        log.info("call %s not routed (%s): the default agent takes it", call.id, exc)
        call.agent_id = _default_agent(ctx, account)
        return
    call.routing_item_id = item.id
    call.agent_id = item.ring[0] if item.ring else item.agent_id


def _default_agent(ctx: Ctx, account: AccountConfig) -> int | None:
    if account.settings.get("default_agent_id"):
        return int(account.settings["default_agent_id"])
    if account.team_id is None:
        return None
    members = accounts.get_team(ctx, account.team_id).member_ids
    return min(members) if members else None


def _announce_ringing(ctx: Ctx, call: CallRecord) -> None:
    ctx.emit(
        "call.ringing",
        call_id=call.id,
        ticket_id=call.ticket_id,
        customer_id=call.customer_id,
        agent_id=call.agent_id,
        direction=call.direction,
        from_number=call.from_number,
        to_number=call.to_number,
    )


def call_offered(ctx: Ctx, item_id: int, agent_id: int) -> None:
    """The router offered a call to an agent: theirs is the phone that rings now."""
    call = repo.call_by_routing_item(ctx.session, item_id)
    if call is None or call.state != "ringing" or call.agent_id == agent_id:
        return
    call.agent_id = agent_id
    _announce_ringing(ctx, call)


# -- the rest of the call ----------------------------------------------------------------
Handler = Callable[[Ctx, AccountConfig, CallRecord, CallEvent], None]


def _dialed(ctx: Ctx, account: AccountConfig, call: CallRecord, event: CallEvent) -> None:
    call.agent_channel_id = event.channel_ids[-1]
    agent = _agent_of_extension(account, event.agent_extension)
    if agent is not None and agent != call.agent_id and call.state == "ringing":
        call.agent_id = agent
        _announce_ringing(ctx, call)


def _answered(ctx: Ctx, account: AccountConfig, call: CallRecord, event: CallEvent) -> None:
    if call.answered_at is not None or call.ended_at is not None:
        return
    call.answered_at, call.state = event.at, "answered"
    call.ring_s = _seconds(call.ringing_at, event.at)
    _timeline(ctx, call, "answered", f"answered after {call.ring_s} s")
    if call.routing_item_id is not None and call.agent_id is not None:
        _tell_router(ctx, "answer_call", call.routing_item_id, call.agent_id)
    ctx.emit("call.answered", **_payload(call))


def _held(ctx: Ctx, account: AccountConfig, call: CallRecord, event: CallEvent) -> None:
    if call.answered_at is None or call.ended_at is not None or call.hold_started_at:
        return
    call.hold_started_at, call.state = event.at, "held"
    _timeline(ctx, call, "held", None)
    ctx.emit("call.held", **_payload(call))


def _unheld(ctx: Ctx, account: AccountConfig, call: CallRecord, event: CallEvent) -> None:
    if call.hold_started_at is None or call.ended_at is not None:
        return
    _close_hold(call, event.at)
    call.state = "answered"
    _timeline(ctx, call, "resumed", None)
    ctx.emit("call.resumed", **_payload(call))


def _close_hold(call: CallRecord, at: datetime) -> None:
    if call.hold_started_at is not None:
        call.hold_s += _seconds(call.hold_started_at, at)
        call.hold_started_at = None


def _transferred(ctx: Ctx, account: AccountConfig, call: CallRecord, event: CallEvent) -> None:
    if call.ended_at is not None or not event.transfer_to:
        return
    call.transferred_to = event.transfer_to
    new_agent = _agent_of_extension(account, event.transfer_to)
    call.agent_id = new_agent if new_agent is not None else call.agent_id
    _timeline(ctx, call, "transferred", f"transferred to {event.transfer_to}")
    ctx.emit("call.transferred", transferred_to=event.transfer_to, **_payload(call))


def _ended(ctx: Ctx, account: AccountConfig, call: CallRecord, event: CallEvent) -> None:
    if event.channel_ids[0] != call.external_id:
        return  # only the agent's leg hung up (a transfer goes on)
    if call.ended_at is not None:  # StasisEnd came first; ChannelDestroyed tells the cause
        call.end_cause = call.end_cause or (event.cause or "")[:100] or None
        return
    _close_hold(call, event.at)
    call.ended_at, call.state, call.end_cause = event.at, "ended", (event.cause or "")[:100] or None
    if call.answered_at is None:
        call.ring_s = _seconds(call.ringing_at, event.at)
    else:
        call.talk_s = max(0, _seconds(call.answered_at, event.at) - call.hold_s)
    _timeline(ctx, call, "ended", _summary(call))
    if call.routing_item_id is not None:
        done = "complete_work" if call.answered_at else "abandon_work"
        _tell_router(ctx, done, call.routing_item_id, None)
    ctx.emit("call.ended", **_payload(call))


def _recording(ctx: Ctx, account: AccountConfig, call: CallRecord, event: CallEvent) -> None:
    name, kind = str(event.recording["name"]), str(event.recording.get("format") or "wav")
    template = str(account.settings.get("recording_url") or "ari:recordings/stored/{name}")
    url = template.format(name=name, format=kind)[:500]
    if call.recording_url == url:
        return
    call.recording_url = url
    _timeline(ctx, call, "recording", url)
    ctx.emit("call.recording", recording_url=url, **_payload(call))


_HANDLERS: dict[str, Handler] = {
    "dialed": _dialed,
    "answered": _answered,
    "held": _held,
    "unheld": _unheld,
    "transferred": _transferred,
    "ended": _ended,
    "recording": _recording,
}


def _tell_router(ctx: Ctx, what: str, item_id: int, agent_id: int | None) -> None:
    """The router's view of the call follows the PBX; a disagreement (the offer already
    expired) is logged, never lost in an error that would refuse the PBX's event."""
    from kefu.routing import offers, work

    try:
        if what == "answer_call" and agent_id is not None:
            offers.answer_call(ctx, item_id, agent_id)
        elif what == "complete_work":
            work.complete_work(ctx, None, item_id)
        else:
            work.abandon_work(ctx, item_id)
    except DomainError as exc:
        log.info("router did not take %s of item %s: %s", what, item_id, exc)


# -- helpers -----------------------------------------------------------------------------
def _seconds(start: datetime, end: datetime) -> int:
    return max(0, round((end - start).total_seconds()))


def _summary(call: CallRecord) -> str:
    if call.answered_at is None:
        return f"missed after {call.ring_s} s ringing ({call.end_cause or 'no answer'})"
    return f"talk {call.talk_s} s, hold {call.hold_s} s ({call.end_cause or 'ended'})"


def _payload(call: CallRecord) -> dict[str, object]:
    return {
        "call_id": call.id,
        "ticket_id": call.ticket_id,
        "customer_id": call.customer_id,
        "agent_id": call.agent_id,
    }


def _timeline(ctx: Ctx, call: CallRecord, what: str, detail: str | None) -> None:
    tickets.record_history(ctx, None, [(call.ticket_id, "call", what, None, detail)])


# -- reads and the agent's wrap-up -------------------------------------------------------
def calls_of_ticket(ctx: Ctx, actor: Principal, ticket_id: int) -> list[CallRead]:
    tickets.load_ticket(ctx, actor, ticket_id)  # 404 for a ticket the actor cannot see
    return [call_read(c) for c in repo.calls_of_ticket(ctx.session, ticket_id)]


def _visible_call(ctx: Ctx, actor: Principal, call_id: int) -> CallRecord:
    call = repo.get_call(ctx.session, call_id)
    if call is None:
        raise NotFound("Call", call_id)
    try:
        tickets.load_ticket(ctx, actor, call.ticket_id)
    except NotFound as exc:
        raise NotFound("Call", call_id) from exc
    return call


def get_call(ctx: Ctx, actor: Principal, call_id: int) -> CallRead:
    return call_read(_visible_call(ctx, actor, call_id))


def finish_wrap_up(ctx: Ctx, actor: Principal, call_id: int) -> CallRead:
    """The agent finished the after-call work: its length is the call's wrap-up time."""
    call = _visible_call(ctx, actor, call_id)
    if call.agent_id != actor.user_id and not actor.sees_all_tickets:
        raise Forbidden("Only the agent of this call, or a supervisor, ends its wrap-up")
    if call.ended_at is None:
        raise Conflict(f"Call {call_id} has not ended yet")
    if call.wrapped_up_at is None:
        call.wrapped_up_at, call.state = ctx.now(), "wrapped"
        call.wrap_up_s = _seconds(call.ended_at, call.wrapped_up_at)
        call.updated_at = ctx.now()
        _timeline(ctx, call, "wrapped_up", f"wrap-up {call.wrap_up_s} s")
        ctx.emit("call.wrapped_up", **_payload(call))
    return call_read(call)
