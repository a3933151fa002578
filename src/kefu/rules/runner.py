"""Running rules: on the queued events (``rules.run``) and on open tickets over time
(``rules.automations``). Never commits; each call is one write job of the worker.

A firing runs every action of the rule in its own savepoint: an action that fails (a
refused change, a template error) is rolled back alone, written on the ticket's history
and in the firing log, and the others stand. The ticket change that caused the event was
committed long before, so no rule can block a save.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from kefu.db import Ctx
from kefu.kit.pagination import encode_cursor
from kefu.rules import actions as acts
from kefu.rules import catalogue as cat
from kefu.rules import facts as facts_of
from kefu.rules import repository as repo
from kefu.rules.compiler import CompiledRule, Facts
from kefu.rules.engine import RuleSet, load_rule_set
from kefu.rules.hooks import CYCLE, Cycle
from kefu.rules.models import RuleEvent
from kefu.tickets import service as tickets
from kefu.tickets.repository import TicketFilter

log = logging.getLogger(__name__)
EVENT_ATTEMPTS = 5
TIME_PAGE = 200
LIVE = ["new", "open", "pending", "on_hold", "solved"]


# -- queued events ---------------------------------------------------------------------------
def run_due(ctx: Ctx, limit: int = 100) -> int:
    """Run the rules on the oldest due events; how many events were taken."""
    rows = repo.due_events(ctx.session, ctx.now(), limit)
    if not rows:
        return 0
    rule_set = load_rule_set(ctx)
    for row in rows:
        mark = len(ctx.events)
        try:
            with ctx.session.begin_nested():
                run_event(ctx, rule_set, row.name, dict(row.payload), row)
        except Exception as exc:  # kefu's own fault: keep the event and try again later
            del ctx.events[mark:]
            log.exception("rules on event %s #%s failed", row.name, row.id)
            _retry_later(ctx, row, exc)
            continue
        repo.delete_event(ctx.session, row.id)
    return len(rows)


def _retry_later(ctx: Ctx, row: RuleEvent, exc: Exception) -> None:
    row.attempts += 1
    row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    row.dead = row.attempts >= EVENT_ATTEMPTS
    row.next_attempt_at = ctx.now() + timedelta(seconds=30 * 2**row.attempts)


def run_event(
    ctx: Ctx, rule_set: RuleSet, name: str, payload: dict[str, Any], row: RuleEvent
) -> None:
    chain = tuple(row.chain or ())
    rules = [r for r in rule_set.for_event(name) if r.id not in chain]
    if not rules:
        return
    needs = frozenset(n for r in rules for n in r.needs)
    facts = _facts(ctx, rules[0].subject, name, payload, needs, row)
    if facts is None:
        return
    fired = list(chain)
    for rule in rules:
        if not rule.matches(facts):
            continue
        if row.depth >= cat.MAX_DEPTH:
            _chain_stopped(ctx, rule, facts, chain)
            return
        fired.append(rule.id)
        if fire(ctx, rule, facts, name, Cycle(row.depth + 1, tuple(fired))):
            facts = facts_of.refreshed(ctx, facts) if rule.subject == cat.TICKET else facts


def _facts(
    ctx: Ctx,
    subject: str,
    name: str,
    payload: Mapping[str, Any],
    needs: frozenset[str],
    row: RuleEvent,
) -> Facts | None:
    if subject == cat.AGENT:
        return facts_of.agent_facts(ctx, payload, row.occurred_at)
    if payload.get("ticket_id") is None:
        return None
    return facts_of.ticket_facts(
        ctx, int(payload["ticket_id"]), name, payload, needs, row.occurred_at
    )


def _chain_stopped(ctx: Ctx, rule: CompiledRule, facts: Facts, chain: tuple[int, ...]) -> None:
    detail = f"{rule.name} not run: {len(chain)} rules fired in a row ({cat.MAX_DEPTH} at most)"
    log.warning("rule chain stopped on ticket %s: %s", facts.get("ticket.id"), detail)
    if "ticket.id" in facts:
        entry = (int(facts["ticket.id"]), "rule_chain_stopped", None, None, detail)
        tickets.record_history(ctx, None, [entry])


# -- one firing ------------------------------------------------------------------------------
def fire(ctx: Ctx, rule: CompiledRule, facts: Facts, event: str, cycle: Cycle) -> bool:
    """Run the rule's actions; True when any changed something."""
    cycle_token = CYCLE.set(cycle)
    actor_token = tickets.automation_actor.set(("rule", rule.id))
    try:
        env = acts.Env(ctx, facts, rule.id, rule.name, None, dry=False)
        results = [r for action in rule.actions for r in _one(env, action)]
        _record(ctx, rule, facts, event, results)
    finally:
        tickets.automation_actor.reset(actor_token)
        CYCLE.reset(cycle_token)
    return any(r["ok"] and r.get("detail") != "unchanged" for r in results)


def _one(env: acts.Env, action: Any) -> list[dict[str, Any]]:
    ctx = env.ctx
    mark = len(ctx.events)
    try:
        with ctx.session.begin_nested():
            return acts.run(env, action)
    except Exception as exc:
        del ctx.events[mark:]
        if not acts.is_failure(exc):
            log.exception("rule %s: action %s failed", env.name, action.type)
        detail = getattr(exc, "detail", None) or str(exc) or type(exc).__name__
        return [{"action": action.type, "ok": False, "detail": detail[:1000]}]


def _record(
    ctx: Ctx, rule: CompiledRule, facts: Facts, event: str, results: list[dict[str, Any]]
) -> None:
    failed = [r for r in results if not r["ok"]]
    status = "applied" if not failed else "failed" if len(failed) == len(results) else "partial"
    ticket_id = facts.get("ticket.id")
    repo.add_firing(
        ctx.session,
        {
            "rule_id": rule.id,
            "rule_version": rule.version,
            "ticket_id": ticket_id,
            "user_id": facts.get("agent.id"),
            "event": event,
            "status": status,
            "results": results,
            "fired_at": ctx.now(),
        },
    )
    if ticket_id is None:
        return
    entries: list[tuple[int, str, str | None, Any, Any]] = [
        (int(ticket_id), "rule_fired", None, event, rule.name)
    ]
    entries += [
        (int(ticket_id), "rule_failed", r["action"], rule.name, r["detail"]) for r in failed
    ]
    tickets.record_history(ctx, None, entries)


# -- time automations ------------------------------------------------------------------------
def run_time_rules(ctx: Ctx, rule_id: int, after_id: int | None) -> int | None:
    """One page of open tickets for one time rule; the last ticket id seen, or None when
    the rule has walked them all."""
    rule = next((r for r in load_rule_set(ctx).time_rules if r.id == rule_id), None)
    if rule is None:
        return None
    statuses = sorted(rule.statuses) if rule.statuses else LIVE
    flt = TicketFilter(status=statuses)
    cursor = None if after_id is None else _cursor(after_id)
    page = tickets.list_tickets(ctx, None, flt, sort="id", cursor=cursor, limit=TIME_PAGE)
    if not page.items:
        return None
    now = ctx.now()
    many = [facts_of.base_facts(t, now) for t in page.items]
    for f in many:
        f["event"] = cat.TIME
    facts_of.complete(ctx, many, rule.needs | {"time"}, cat.TIME, {})
    fired_at = repo.last_fired(ctx.session, rule.id, [int(f["ticket.id"]) for f in many])
    for f in many:
        last = fired_at.get(int(f["ticket.id"]))
        if last is not None and last >= f["ticket.status_since"]:
            continue  # fires once each time a ticket enters its status
        if rule.matches(f):
            fire(ctx, rule, f, cat.TIME, Cycle(1, (rule.id,)))
    return page.items[-1].id if page.next_cursor else None


def _cursor(after_id: int) -> str:
    return encode_cursor([after_id, after_id])
