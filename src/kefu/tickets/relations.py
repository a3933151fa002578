"""Tickets in relation to each other: merge, split a message off, link."""

from __future__ import annotations

from kefu.db import Ctx
from kefu.kit.errors import Conflict, NotFound, invalid
from kefu.security.permissions import Principal
from kefu.sla import service as sla
from kefu.tickets import repository as repo
from kefu.tickets.models import RANK_PRIORITY, Status, Ticket, TicketLink
from kefu.tickets.schemas import LinkCreate, MergeRequest, SplitRequest, TicketRead
from kefu.tickets.service import get_ticket, history_row, load_ticket


def merge_tickets(
    ctx: Ctx, actor: Principal | None, target_id: int, data: MergeRequest
) -> TicketRead:
    """Fold each source into the target: messages, tags and followers move; the source
    closes and points at the survivor."""
    target = load_ticket(ctx, actor, target_id, write=True)
    for source_id in dict.fromkeys(data.source_ids):
        if source_id == target_id:
            raise invalid(["body", "source_ids"], "a ticket cannot be merged into itself")
        _fold(ctx, actor, load_ticket(ctx, actor, source_id, write=True), target)
    target.version += 1
    target.updated_at = ctx.now()
    ctx.emit("ticket.merged", ticket_id=target.id, source_ids=list(dict.fromkeys(data.source_ids)))
    return get_ticket(ctx, actor, target.id)


def _fold(ctx: Ctx, actor: Principal | None, source: Ticket, target: Ticket) -> None:
    message_ids = repo.message_ids_of(ctx.session, source.id)
    repo.move_messages(ctx.session, message_ids, target.id)
    repo.move_search_rows(ctx.session, message_ids, target.id)
    tags = repo.tags_of(ctx.session, [source.id, target.id])
    repo.add_tags(ctx.session, target.id, sorted(set(tags[source.id]) - set(tags[target.id])))
    followers = set(repo.followers_of(ctx.session, target.id))
    followers |= set(repo.followers_of(ctx.session, source.id))
    repo.set_followers(ctx.session, target.id, followers)
    old_status = source.status
    now = ctx.now()
    source.status, source.closed_at, source.merged_into_id = Status.closed, now, target.id
    source.version += 1
    source.updated_at = now
    repo.insert_events(
        ctx.session,
        [
            history_row(ctx, source.id, actor, "merged_into", "status", old_status, Status.closed),
            history_row(ctx, target.id, actor, "merged_from", "messages", None, f"#{source.id}"),
        ],
    )
    sla.ticket_changed(ctx, source, ["status"])
    ctx.emit(
        "ticket.updated",
        ticket_id=source.id,
        actor_id=actor.user_id if actor else None,
        changes=[{"field": "status", "old": old_status, "new": Status.closed.value}],
    )


def split_ticket(
    ctx: Ctx, actor: Principal | None, ticket_id: int, data: SplitRequest
) -> TicketRead:
    """Move one message to a new ticket of its own, linked to the original."""
    ticket = load_ticket(ctx, actor, ticket_id, write=True)
    message = repo.get_message(ctx.session, data.message_id)
    if message is None or message.ticket_id != ticket.id:
        raise invalid(
            ["body", "message_id"], f"message {data.message_id} is not on ticket #{ticket_id}"
        )
    if repo.message_count(ctx.session, ticket.id) < 2:
        raise Conflict("The ticket's only message cannot be split off")
    now = ctx.now()
    subject = data.subject or ticket.subject
    new_id = repo.insert_ticket(
        ctx.session,
        {
            "subject": subject,
            "status": Status.open,
            "priority": ticket.priority,
            "type": ticket.type,
            "category": ticket.category,
            "channel": message.channel,
            "language": ticket.language,
            "requester_id": message.author_customer_id or ticket.requester_id,
            "team_id": ticket.team_id,
            "assignee_id": ticket.assignee_id,
            "custom_fields": dict(ticket.custom_fields or {}),
            "version": 1,
            "created_at": now,
            "updated_at": now,
        },
    )
    repo.add_tags(ctx.session, new_id, repo.tags_of(ctx.session, [ticket.id])[ticket.id])
    repo.move_messages(ctx.session, [message.id], new_id)
    repo.move_search_rows(ctx.session, [message.id], new_id)
    repo.index_text(ctx.session, new_id, None, subject)
    repo.add(
        ctx.session,
        TicketLink(
            ticket_id=new_id,
            other_id=ticket.id,
            kind="related",
            created_by_id=actor.user_id if actor else None,
            created_at=now,
        ),
    )
    repo.insert_events(
        ctx.session,
        [
            history_row(ctx, new_id, actor, "split_from", "message", None, f"#{ticket.id}"),
            history_row(ctx, ticket.id, actor, "split_to", "message", message.id, f"#{new_id}"),
        ],
    )
    ticket.version += 1
    ticket.updated_at = now
    sla.ticket_created(ctx, new_id)
    ctx.emit(
        "ticket.created",
        ticket_id=new_id,
        requester_id=message.author_customer_id or ticket.requester_id,
        channel=message.channel,
        priority=RANK_PRIORITY[ticket.priority].value,
        status=Status.open.value,
        team_id=ticket.team_id,
        assignee_id=ticket.assignee_id,
        actor_id=actor.user_id if actor else None,
        split_from=ticket.id,
    )
    return get_ticket(ctx, actor, new_id)


def link_tickets(ctx: Ctx, actor: Principal | None, ticket_id: int, data: LinkCreate) -> TicketRead:
    ticket = load_ticket(ctx, actor, ticket_id)
    if data.other_id == ticket_id:
        raise invalid(["body", "other_id"], "a ticket cannot be linked to itself")
    try:
        other = load_ticket(ctx, actor, data.other_id)
    except NotFound as exc:
        raise invalid(["body", "other_id"], f"no ticket #{data.other_id} you can see") from exc
    if repo.find_link(ctx.session, ticket.id, other.id) is not None:
        raise Conflict(f"Tickets #{ticket.id} and #{other.id} are already linked")
    repo.add(
        ctx.session,
        TicketLink(
            ticket_id=ticket.id,
            other_id=other.id,
            kind=data.kind,
            created_by_id=actor.user_id if actor else None,
            created_at=ctx.now(),
        ),
    )
    repo.insert_events(
        ctx.session,
        [
            history_row(ctx, ticket.id, actor, "linked", data.kind, None, f"#{other.id}"),
            history_row(ctx, other.id, actor, "linked", data.kind, None, f"#{ticket.id}"),
        ],
    )
    ctx.emit("ticket.linked", ticket_id=ticket.id, other_id=other.id, kind=data.kind.value)
    return get_ticket(ctx, actor, ticket.id)


def unlink_tickets(ctx: Ctx, actor: Principal | None, ticket_id: int, other_id: int) -> TicketRead:
    load_ticket(ctx, actor, ticket_id)
    link = repo.find_link(ctx.session, ticket_id, other_id)
    if link is None:
        raise NotFound("Link to ticket", other_id)
    repo.delete_obj(ctx.session, link)
    repo.insert_events(
        ctx.session,
        [
            history_row(ctx, ticket_id, actor, "unlinked", link.kind, f"#{other_id}", None),
        ],
    )
    ctx.emit("ticket.unlinked", ticket_id=ticket_id, other_id=other_id)
    return get_ticket(ctx, actor, ticket_id)
