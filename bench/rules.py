"""bench.rules: events evaluated against 200 active rules.

200 rules (seeded) of the shapes supervisors write: channel and priority checks, Chinese
and English keywords, tags, VIP tiers in any-groups, RE2 patterns, custom fields, what an
update changed, who wrote a message; spread over ticket.created, ticket.updated,
message.created and the SLA events. They are compiled by the real compiler
(``rules.compiler``) and indexed by event (``rules.engine.build``). 100,000 events with
their facts (seeded tickets) are then run through the rule set as the worker does: the
event's rules, each predicate in order, the matches collected.

Timed: the whole stream (events per second), and each event alone (p50 / p99 in µs). The
baseline beside it is the same predicates without the index by event (every rule's
trigger checked on every event, as a plain loop over all rules would).

Then, end to end on a real database (SQLite under a temporary directory, or
``KEFU_BENCH_DATABASE_URL``): N tickets are created through the tickets service with
the rules active, which queues N ``ticket.created`` events in their transactions, and the
worker's job (``runner.run_due``) runs them, loading each ticket's facts and writing the
firings; events per second of that is printed too.

    python -m bench.rules [--events N] [--rules R] [--db-events N]

The last line is one JSON object: {"bench": "rules", "rules", "events", "per_s", "p99_us",
...}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kefu.rules import engine
from kefu.rules.compiler import CompiledRule, Facts, compile_rule
from kefu.rules.refs import Refs

SEED = 11
PG_NAME = "kefu_bench_rules"
EVENTS = ("ticket.created", "ticket.updated", "message.created", "sla.breached", "sla.warning")
EVENT_WEIGHTS = (35, 30, 25, 6, 4)
CHANNELS = ("email", "webchat", "whatsapp", "wechat", "voice", "api")
WORDS = ("refund", "invoice", "delivery", "password", "broken", "cancel", "upgrade", "login")
ZH_WORDS = ("退款", "发票", "快递", "密码", "投诉", "取消", "升级", "登录")
TAGS = ("vip", "refund", "bug", "urgent", "billing", "spam", "repeat", "wechat")
PRIORITIES = ("low", "normal", "high", "urgent")
REFS = Refs(
    teams={"support": 1, "billing": 2},
    ticket_fields={"plan": ("select", ("gold", "silver", "bronze")), "seats": ("number", ())},
)


# -- the rules -------------------------------------------------------------------------------
def _cond(rnd: random.Random, event: str) -> dict[str, Any]:
    shapes: list[Callable[[], dict[str, Any]]] = [
        lambda: {"field": "ticket.channel", "op": "is", "value": rnd.choice(CHANNELS)},
        lambda: {"field": "ticket.priority", "op": "gte", "value": rnd.choice(PRIORITIES)},
        lambda: {
            "field": "ticket.text",
            "op": "contains",
            "value": [rnd.choice(WORDS), rnd.choice(ZH_WORDS)],
        },
        lambda: {"field": "ticket.tags", "op": "includes", "value": rnd.sample(TAGS, 2)},
        lambda: {
            "any": [
                {"field": "customer.tier", "op": "is", "value": "vip"},
                {"field": "ticket.priority", "op": "is", "value": "urgent"},
            ]
        },
        lambda: {
            "field": "ticket.subject",
            "op": "matches",
            "value": rf"order\s*#?\d{{{rnd.randint(3, 6)}}}",
        },
        lambda: {
            "field": "ticket.custom_fields.plan",
            "op": "is",
            "value": rnd.choice(("gold", "silver")),
        },
        lambda: {"field": "ticket.team", "op": "in", "value": ["Support", "Billing"]},
    ]
    if event == "ticket.updated":
        shapes.append(
            lambda: {"field": "update.changed", "op": "includes", "value": ["status", "priority"]}
        )
    if event == "message.created":
        shapes.append(lambda: {"field": "message.author_type", "op": "is", "value": "customer"})
    return rnd.choice(shapes)()


def build_rules(count: int, rnd: random.Random) -> list[CompiledRule]:
    rules = []
    for i in range(count):
        event = rnd.choices(EVENTS, EVENT_WEIGHTS)[0]
        conditions = {"all": [_cond(rnd, event) for _ in range(rnd.randint(1, 4))]}
        data = {
            "name": f"rule {i}",
            "trigger": [event],
            "conditions": conditions,
            "actions": [{"type": "add_tags", "tags": [f"r{i}"]}],
        }
        rule, errors = compile_rule(data, REFS, [], rule_id=i + 1, version=1, position=i)
        assert rule is not None, errors
        rules.append(rule)
    return rules


# -- the events ------------------------------------------------------------------------------
def _text(rnd: random.Random) -> str:
    words = [rnd.choice(WORDS + ZH_WORDS) for _ in range(rnd.randint(3, 12))]
    filler = f"the customer wrote about order #{rnd.randint(100, 9_999_999)} and more"
    return " ".join(words) + " " + filler


def build_events(count: int, rnd: random.Random) -> list[tuple[str, Facts]]:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    events = []
    for i in range(count):
        name = rnd.choices(EVENTS, EVENT_WEIGHTS)[0]
        subject = f"{rnd.choice(WORDS)} {rnd.choice(ZH_WORDS)} order #{rnd.randint(10, 999_999)}"
        body = _text(rnd)
        facts: Facts = {
            "now": now,
            "ticket.id": i,
            "ticket.subject": subject,
            "ticket.subject~": subject.lower(),
            "ticket.text": subject + "\n" + body,
            "ticket.text~": (subject + "\n" + body).lower(),
            "ticket.channel": rnd.choice(CHANNELS),
            "ticket.priority": rnd.randint(0, 3),
            "ticket.status": rnd.choice(("new", "open", "pending", "solved")),
            "ticket.tags": frozenset(rnd.sample(TAGS, rnd.randint(0, 3))),
            "ticket.team": rnd.choice((None, 1, 2, 3)),
            "ticket.custom_fields": {"plan": rnd.choice(("gold", "silver", "bronze"))},
            "ticket.created_at": now - timedelta(hours=rnd.randint(1, 200)),
            "customer.tier": rnd.choice(("standard", "standard", "vip")),
            "update.changed": frozenset(rnd.sample(("status", "priority", "tags", "subject"), 2)),
            "message.author_type": rnd.choice(("customer", "agent")),
            "message.body": body,
            "message.body~": body.lower(),
            "event": name,
        }
        events.append((name, facts))
    return events


# -- evaluation ------------------------------------------------------------------------------
def evaluate(rule_set: engine.RuleSet, events: list[tuple[str, Facts]]) -> int:
    fired = 0
    for name, facts in events:
        for rule in rule_set.for_event(name):
            if rule.matches(facts):
                fired += 1
    return fired


def evaluate_unindexed(rules: list[CompiledRule], events: list[tuple[str, Facts]]) -> int:
    fired = 0
    for name, facts in events:
        for rule in rules:
            if name in rule.trigger and rule.matches(facts):
                fired += 1
    return fired


def latencies_us(rule_set: engine.RuleSet, events: list[tuple[str, Facts]]) -> list[float]:
    clock = time.perf_counter_ns
    out = []
    for name, facts in events:
        start = clock()
        for rule in rule_set.for_event(name):
            rule.matches(facts)
        out.append((clock() - start) / 1000)
    return out


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


# -- end to end ------------------------------------------------------------------------------
def _selective_rule(i: int, rnd: random.Random) -> dict[str, Any]:
    """A rule that fires on few tickets, as real ones do: its own keyword, and for half of
    them a channel; each ticket carries two of the keywords."""
    conditions: list[dict[str, Any]] = [
        {"field": "ticket.text", "op": "contains", "value": [f"kw{i}"]}
    ]
    if i % 2:
        conditions.insert(
            0, {"field": "ticket.channel", "op": "is", "value": rnd.choice(CHANNELS[:4])}
        )
    return {
        "name": f"rule {i}",
        "trigger": ["ticket.created"],
        "conditions": {"all": conditions},
        "actions": [{"type": "add_tags", "tags": [f"r{i}"]}],
    }


@contextmanager
def fresh_database() -> Iterator[tuple[Path, str]]:
    """(data dir, URL): SQLite in a temporary folder, or a new PostgreSQL database when
    KEFU_BENCH_DATABASE_URL is set (made here, dropped after)."""
    base = os.environ.get("KEFU_BENCH_DATABASE_URL", "")
    with tempfile.TemporaryDirectory() as folder:
        if not base:
            yield Path(folder), ""
            return
        with _pg(base) as url:
            yield Path(folder), url


@contextmanager
def _pg(base: str) -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from kefu.db import normalise_url

    url = make_url(normalise_url(base))
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{PG_NAME}"'))
    try:
        yield url.set(database=PG_NAME).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))
        admin.dispose()


def populate(runtime: Any, rules: int, count: int) -> None:
    """Two teams, ``rules`` selective rules, then ``count`` tickets through the service:
    each ticket's transaction queues its ``ticket.created`` for the rules."""
    from kefu.accounts import service as accounts
    from kefu.accounts.schemas import TeamCreate
    from kefu.rules import service
    from kefu.rules.schemas import RuleIn
    from kefu.tickets import service as tickets
    from kefu.tickets.models import Priority
    from kefu.tickets.schemas import RequesterIn, TicketCreate

    db, rnd = runtime.db, random.Random(SEED)
    for name in ("Support", "Billing"):
        db.run_write(accounts.create_team, TeamCreate(name=name))
    for i in range(rules):
        db.run_write(service.create_rule, None, RuleIn.model_validate(_selective_rule(i, rnd)))
    for i in range(count):
        ticket = TicketCreate(
            subject=f"{rnd.choice(WORDS)} {rnd.choice(ZH_WORDS)} order #{i}",
            body=_text(rnd) + " " + " ".join(f"kw{rnd.randrange(rules)}" for _ in range(2)),
            requester=RequesterIn(email=f"c{i % 500}@example.com", name=f"Customer {i}"),
            channel=rnd.choice(CHANNELS[:4]),
            priority=Priority(rnd.choice(PRIORITIES)),
        )
        db.run_write(tickets.create_ticket, None, ticket)


def end_to_end(rules: int, count: int) -> dict[str, Any]:
    """The worker's job (``runner.run_due``, 100 events a transaction) on the queued events:
    facts loaded from the database, rules run, firings and their changes written."""
    from kefu import migrate
    from kefu.config import Settings
    from kefu.kit.time import FrozenClock
    from kefu.rules import runner, service
    from kefu.runtime import Runtime

    with fresh_database() as (folder, url):
        settings = Settings(data_dir=folder, database_url=url, secret_key="bench", run_worker=False)
        runtime = Runtime.create(settings, FrozenClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC)))
        migrate.upgrade(runtime.db.engine)
        populate(runtime, rules, count)
        start, cpu = time.perf_counter(), time.process_time()
        taken = 0
        while (done := runtime.db.run_write(runner.run_due, 100)) > 0:
            taken += done
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        firings = runtime.db.run_read(service.list_firings, None, None, None, 1_000_000).items
        runtime.db.close()
    per_s = round(taken / seconds, 1)
    cpu_ms = round(1000 * cpu / max(taken, 1), 2)  # steadier than the rate on a shared machine
    return {"cpu_ms_per_event": cpu_ms} | {
        "db": runtime.db.dialect,
        "rules": rules,
        "events": taken,
        "firings": len(firings),
        "per_s": per_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--db-events", type=int, default=1_000)
    args = parser.parse_args(argv)
    rnd = random.Random(SEED)
    rules = build_rules(args.rules, rnd)
    rule_set = engine.build(rules, "bench")
    events = build_events(args.events, rnd)
    evaluate(rule_set, events[:2000])  # warm up
    seconds, fired = timed(evaluate, rule_set, events)
    base_seconds, base_fired = timed(evaluate_unindexed, rules, events)
    assert fired == base_fired, (fired, base_fired)
    lat = sorted(latencies_us(rule_set, events))
    per_event_rules = statistics.mean(len(rule_set.for_event(n)) for n, _ in events)
    e2e = end_to_end(args.rules, args.db_events) if args.db_events else None
    result = {
        "bench": "rules",
        "rules": args.rules,
        "events": args.events,
        "per_s": round(args.events / seconds),
        "p50_us": round(lat[len(lat) // 2], 1),
        "p99_us": round(lat[int(len(lat) * 0.99)], 1),
        "rules_per_event": round(per_event_rules, 1),
        "fired": fired,
        "baseline_per_s": round(args.events / base_seconds),
        "speedup": round(base_seconds / seconds, 2),
        "end_to_end": e2e,
    }
    print(f"{args.rules} rules, {args.events} events, {per_event_rules:.1f} rules per event")
    latency = f"p50 {result['p50_us']} µs  p99 {result['p99_us']} µs"
    print(f"  indexed by event:  {result['per_s']:>10,} events/s  {latency}")
    print(f"  no index baseline: {result['baseline_per_s']:>10,} events/s  ({result['speedup']}x)")
    if e2e:
        done = f"{e2e['events']} queued events, {e2e['firings']} firings"
        rate = f"{e2e['per_s']} events/s, {e2e['cpu_ms_per_event']} ms CPU each"
        print(f"  end to end ({e2e['db']}): {done}, {rate}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
