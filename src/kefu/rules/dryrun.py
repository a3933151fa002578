"""What a rule would have done over the last N days, changing nothing (it runs in a read
transaction, which is rolled back, and its actions run with ``dry``).

The events of the window are replayed from what kefu kept: tickets created in it, their
messages, the changes on their history (which fields each update changed) and SLA
warnings and breaches. Each event is checked against the ticket's current fields plus the
event's own facts (the message, the changed fields, the SLA target). A time automation is
checked against the open tickets now. Each ticket is listed once, at its first match.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from kefu.db import Ctx
from kefu.kit.errors import Invalid, NotFound, invalid
from kefu.rules import actions as acts
from kefu.rules import catalogue as cat
from kefu.rules import engine
from kefu.rules import facts as facts_of
from kefu.rules import repository as repo
from kefu.rules.compiler import CompiledRule, Facts, compile_rule
from kefu.rules.runner import LIVE
from kefu.rules.schemas import ActionResult, DryRunItem, DryRunResult, RuleIn
from kefu.rules.service import definition_of
from kefu.tickets import conversation
from kefu.tickets import service as tickets
from kefu.tickets.repository import TicketFilter
from kefu.tickets.schemas import TicketSummary

MAX_TICKETS = 2000
PAGE = 200
Event = tuple[str, dict[str, Any], datetime]


def dry_run(ctx: Ctx, rule_id: int, days: int) -> DryRunResult:
    stored = repo.get_rule(ctx.session, rule_id)
    if stored is None:
        raise NotFound("Rule", rule_id)
    return dry_run_definition(ctx, RuleIn.model_validate(stored.definition), days, rule_id)


def dry_run_definition(ctx: Ctx, data: RuleIn, days: int, rule_id: int = 0) -> DryRunResult:
    if not 1 <= days <= 365:
        raise invalid(["query", "days"], "must be between 1 and 365")
    rule, errors = compile_rule(
        definition_of(data), engine.load_refs(ctx), ["body"], rule_id=rule_id
    )
    if rule is None:
        raise Invalid(errors, f"{len(errors)} problem(s) in the rule")
    if rule.subject != cat.TICKET:
        raise invalid(["body", "trigger"], "dry runs replay ticket events; agent rules have none")
    since = ctx.now() - timedelta(days=days)
    scanned, items, truncated = 0, [], False
    for summary in _candidates(ctx, rule, since):
        if scanned >= MAX_TICKETS:
            truncated = True
            break
        scanned += 1
        item = _check_ticket(ctx, rule, summary, since)
        if item is not None:
            items.append(item)
    return DryRunResult(
        rule=data.name,
        days=days,
        scanned=scanned,
        matched=len(items),
        truncated=truncated,
        items=items,
    )


def _candidates(ctx: Ctx, rule: CompiledRule, since: datetime) -> Iterator[TicketSummary]:
    if rule.is_time:
        flt = TicketFilter(status=sorted(rule.statuses) if rule.statuses else LIVE)
    elif rule.trigger == {"ticket.created"}:
        flt = TicketFilter(created_from=since)
    else:
        flt = TicketFilter(updated_from=since)
    cursor = None
    while True:
        page = tickets.list_tickets(ctx, None, flt, sort="-id", cursor=cursor, limit=PAGE)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _check_ticket(
    ctx: Ctx, rule: CompiledRule, summary: TicketSummary, since: datetime
) -> DryRunItem | None:
    now = ctx.now()
    for name, payload, at in _events(ctx, rule, summary, since):
        facts = facts_of.base_facts(summary, now if rule.is_time else at)
        facts_of.add_event(facts, name, payload)
        facts_of.complete(ctx, [facts], rule.needs | _needs(name), name, payload)
        if rule.matches(facts):
            return DryRunItem(
                ticket_id=summary.id, subject=summary.subject, changes=_plan(ctx, rule, facts)
            )
    return None


def _needs(name: str) -> frozenset[str]:
    return frozenset({"message"}) if name == "message.created" else frozenset()


def _plan(ctx: Ctx, rule: CompiledRule, facts: Facts) -> list[ActionResult]:
    env = acts.Env(ctx, facts, rule.id, rule.name, None, dry=True)
    results: list[ActionResult] = []
    for action in rule.actions:
        try:
            done = acts.run(env, action)
        except Exception as exc:  # what would fail is part of the answer
            done = [{"action": action.type, "ok": False, "detail": str(exc)[:500]}]
        results += [ActionResult.model_validate(r) for r in done]
    return results


def _events(ctx: Ctx, rule: CompiledRule, t: TicketSummary, since: datetime) -> Iterator[Event]:
    if rule.is_time:
        yield cat.TIME, {}, ctx.now()
        return
    wanted = rule.trigger
    if "ticket.created" in wanted and t.created_at >= since:
        yield "ticket.created", {"ticket_id": t.id}, t.created_at
    if "message.created" in wanted:
        yield from _message_events(ctx, t.id, since)
    if wanted & {"ticket.updated", "sla.warning", "sla.breached"}:
        yield from _history_events(ctx, t.id, since, wanted)


def _message_events(ctx: Ctx, ticket_id: int, since: datetime) -> Iterator[Event]:
    cursor = None
    while True:
        page = conversation.list_messages(ctx, None, ticket_id, cursor, 100)
        for m in page.items:
            if m.created_at >= since:
                payload: dict[str, Any] = {"ticket_id": ticket_id, "message_id": m.id}
                payload |= {"author_type": m.author_type, "visibility": m.visibility.value}
                yield "message.created", payload, m.created_at
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _history_events(
    ctx: Ctx, ticket_id: int, since: datetime, wanted: frozenset[str]
) -> Iterator[Event]:
    rows = []
    cursor = None
    while True:
        page = conversation.history(ctx, None, ticket_id, cursor, 100)
        rows += [e for e in page.items if e.created_at >= since]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    kinds = {"sla_warning": "sla.warning", "sla_breached": "sla.breached"}
    for at, group in groupby(rows, key=lambda e: e.created_at):
        entries = list(group)
        changes = [{"field": e.field} for e in entries if e.kind == "changed"]
        if changes and "ticket.updated" in wanted:
            yield "ticket.updated", {"ticket_id": ticket_id, "changes": changes}, at
        for e in entries:
            if kinds.get(e.kind) in wanted:
                yield kinds[e.kind], {"ticket_id": ticket_id, "metric": e.field}, at
