"""The facts rules are evaluated on: one flat dict per ticket (or agent) and event, built
through the other domains' services. Only what the rules need is loaded (``needs``): the
message text, the customer, the time in the current status.

Text fields are kept as written and lower-cased under ``name~`` (matching is case-blind);
the priority is its rank, tags and changed fields are frozensets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from kefu.accounts import service as accounts
from kefu.customers import service as customers
from kefu.db import Ctx
from kefu.kit.errors import NotFound
from kefu.tickets import conversation
from kefu.tickets import service as tickets
from kefu.tickets.models import PRIORITY_RANK
from kefu.tickets.repository import TicketFilter
from kefu.tickets.schemas import TicketSummary

Facts = dict[str, Any]
MAX_TEXT = 100_000


def ticket_summaries(ctx: Ctx, ticket_ids: list[int]) -> dict[int, TicketSummary]:
    if not ticket_ids:
        return {}
    page = tickets.list_tickets(ctx, None, TicketFilter(ids=ticket_ids), limit=len(ticket_ids))
    return {t.id: t for t in page.items}


def base_facts(t: TicketSummary, now: datetime) -> Facts:
    return {
        "now": now,
        "ticket.id": t.id,
        "ticket.subject": t.subject,
        "ticket.subject~": t.subject.lower(),
        "ticket.text": t.subject,
        "ticket.text~": t.subject.lower(),
        "ticket.status": t.status.value,
        "ticket.priority": PRIORITY_RANK[t.priority],
        "ticket.type": t.type.value if t.type else None,
        "ticket.category": t.category,
        "ticket.category~": (t.category or "").lower(),
        "ticket.channel": t.channel,
        "ticket.language": t.language,
        "ticket.tags": frozenset(t.tags),
        "ticket.team": t.team.id if t.team else None,
        "ticket.assignee": t.assignee.id if t.assignee else None,
        "ticket.custom_fields": dict(t.custom_fields),
        "ticket.created_at": t.created_at,
        "ticket.updated_at": t.updated_at,
        "ticket.solved_at": t.solved_at,
        "ticket.status_since": t.updated_at,
        "requester_id": t.requester.id,
        "summary": t,
    }


def add_message(facts: Facts, body: str, author_type: str, visibility: str) -> None:
    body = body[:MAX_TEXT]
    facts["message.body"], facts["message.body~"] = body, body.lower()
    facts["message.author_type"], facts["message.visibility"] = author_type, visibility
    text = f"{facts['ticket.subject']}\n{body}"
    facts["ticket.text"], facts["ticket.text~"] = text, text.lower()


def add_message_of_event(ctx: Ctx, facts: Facts, name: str, payload: Mapping[str, Any]) -> None:
    """The message the event is about: the new one, or a new ticket's first message."""
    if name == "message.created" and payload.get("message_id") is not None:
        try:
            view = conversation.outbound_view(ctx, int(payload["message_id"]))
        except NotFound:
            return
        author, visibility = str(payload.get("author_type")), str(payload.get("visibility"))
        add_message(facts, view.text, author, visibility)
        return
    first = conversation.list_messages(ctx, None, int(facts["ticket.id"]), None, 1).items
    if first:
        message = first[0]
        add_message(facts, message.body_text, message.author_type, message.visibility.value)


def add_customer(ctx: Ctx, facts: Facts) -> None:
    try:
        customer = customers.get_customer(ctx, int(facts["requester_id"]))
    except NotFound:
        return
    facts["customer.tier"] = customer.tier
    facts["customer.language"] = customer.language
    facts["customer.tags"] = frozenset(customer.tags)
    facts["customer.email"] = customer.email
    facts["customer.email~"] = (customer.email or "").lower()
    facts["customer.attributes"] = dict(customer.attributes)
    facts["customer"] = customer


def add_status_since(ctx: Ctx, many: Iterable[Facts]) -> None:
    by_id = {int(f["ticket.id"]): f for f in many}
    for ticket_id, at in tickets.status_since(ctx, list(by_id)).items():
        by_id[ticket_id]["ticket.status_since"] = at


def add_event(facts: Facts, name: str, payload: Mapping[str, Any]) -> None:
    facts["event"] = name
    if name == "ticket.updated":
        changes = payload.get("changes") or []
        facts["update.changed"] = frozenset(str(c.get("field", "")) for c in changes)
    elif name.startswith("sla."):
        facts["sla.metric"] = payload.get("metric")
    elif name == "survey.rated":
        facts["survey.rating"] = payload.get("rating")
        comment = str(payload.get("comment") or "")
        facts["survey.comment"], facts["survey.comment~"] = comment, comment.lower()


def ticket_facts(
    ctx: Ctx,
    ticket_id: int,
    name: str,
    payload: Mapping[str, Any],
    needs: frozenset[str],
    now: datetime,
) -> Facts | None:
    """Everything the rules need about one ticket for one event; None if it is gone."""
    summary = ticket_summaries(ctx, [ticket_id]).get(ticket_id)
    if summary is None:
        return None
    facts = base_facts(summary, now)
    add_event(facts, name, payload)
    complete(ctx, [facts], needs, name, payload)
    return facts


def complete(
    ctx: Ctx, many: list[Facts], needs: frozenset[str], name: str, payload: Mapping[str, Any]
) -> None:
    if "message" in needs or "context" in needs:
        for facts in many:
            add_message_of_event(ctx, facts, name, payload)
    if "customer" in needs or "context" in needs:
        for facts in many:
            add_customer(ctx, facts)
    if "time" in needs:
        add_status_since(ctx, many)


def refreshed(ctx: Ctx, facts: Facts) -> Facts:
    """The ticket's fields again after a rule changed them; the event's own facts (its
    message, its changes) and the customer stay as they were."""
    summary = ticket_summaries(ctx, [int(facts["ticket.id"])]).get(int(facts["ticket.id"]))
    if summary is None:
        return facts
    fresh = base_facts(summary, facts["now"])
    kept = {k: v for k, v in facts.items() if not k.startswith("ticket.") or k.startswith(_KEEP)}
    if "message.body" in facts:
        kept["ticket.text"] = f"{fresh['ticket.subject']}\n{facts['message.body']}"
        kept["ticket.text~"] = kept["ticket.text"].lower()
        kept.pop("ticket.text^", None)
    return {**fresh, **{k: v for k, v in kept.items() if k not in _FRESH}, "summary": summary}


_KEEP = ("ticket.status_since",)
_FRESH = frozenset({"summary", "requester_id"})


def agent_facts(ctx: Ctx, payload: Mapping[str, Any], now: datetime) -> Facts | None:
    try:
        user = accounts.get_user(ctx, int(payload["user_id"]))
    except (NotFound, KeyError, ValueError):
        return None
    names = {t.id: t.name for t in accounts.list_teams(ctx)}
    reason = str(payload.get("reason") or "")
    return {
        "now": now,
        "event": "routing.agent.state",
        "agent.id": user.id,
        "agent.state": payload.get("state"),
        "agent.previous": payload.get("previous"),
        "agent.reason": reason,
        "agent.reason~": reason.lower(),
        "agent.teams": frozenset(names[t].lower() for t in user.team_ids if t in names),
        "agent": user,
    }
