"""Ticket services called directly: constant query count per page, history, system actor."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from kefu import prepared
from kefu.accounts import service as accounts
from kefu.accounts.schemas import TeamCreate, UserCreate
from kefu.db import Ctx
from kefu.kit.time import FrozenClock
from kefu.runtime import Runtime
from kefu.security.permissions import Principal
from kefu.tickets import conversation
from kefu.tickets import service as tickets
from kefu.tickets.repository import TicketFilter
from kefu.tickets.schemas import TicketCreate, TicketUpdate
from tests.conftest import PG_URL


@contextmanager
def statements(runtime: Runtime) -> Iterator[list[str]]:
    """Every SQL statement sent on the runtime's engines while the block runs, prepared
    reads (``kefu.prepared``) included."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen.append(sql)

    engines = {runtime.db.engine, runtime.db.write_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    prepared.STATEMENT_HOOKS.append(seen.append)
    try:
        yield seen
    finally:
        prepared.STATEMENT_HOOKS.remove(seen.append)
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


def user(runtime: Runtime, role: str, team_ids: list[int] | None = None) -> Principal:
    created = runtime.db.run_write(
        accounts.create_user,
        UserCreate(
            email=f"{role}-{uuid.uuid4().hex[:6]}@example.com",
            name=role,
            role=role,  # type: ignore[arg-type]
            team_ids=team_ids or [],
        ),
    )
    return runtime.db.run_read(accounts.principal_for_user, created.id)


def team(runtime: Runtime, name: str, private: bool = False) -> int:
    return runtime.db.run_write(accounts.create_team, TeamCreate(name=name, private=private)).id


def new_ticket(runtime: Runtime, actor: Principal | None, **fields: Any) -> int:
    body: dict[str, Any] = {
        "subject": "Printer on fire",
        "body": "It is on fire.",
        "requester": {"email": "ops@example.com"},
        **fields,
    }
    return runtime.db.run_write(tickets.create_ticket, actor, TicketCreate.model_validate(body)).id


def fill(
    runtime: Runtime, count: int, lead: Principal, agents: list[Principal], teams: list[int]
) -> None:
    """Tickets that each join a different requester, assignee, team and tags."""
    for n in range(count):
        member = agents[n % len(agents)]
        new_ticket(
            runtime,
            lead,
            requester={"email": f"customer{n}@example.com", "name": f"Customer {n}"},
            assignee_id=member.user_id,
            team_id=teams[n % len(teams)],
            tags=[f"tag{n}", "common"],
            priority=["low", "normal", "high", "urgent"][n % 4],
        )


def list_statements(runtime: Runtime, actor: Principal, limit: int, **flt: Any) -> int:
    with statements(runtime) as seen:
        page = runtime.db.run_read(tickets.list_tickets, actor, TicketFilter(**flt), limit=limit)
    assert len(page.items) == limit
    assert all(t.requester.email and t.tags and t.assignee and t.team for t in page.items)
    return len(seen)


def test_listing_costs_the_same_statements_for_5_or_50(sync_runtime: Runtime) -> None:
    rt = sync_runtime
    teams = [team(rt, "one"), team(rt, "two", private=True)]
    lead = user(rt, "supervisor")
    agents = [user(rt, "agent", [teams[0]]), user(rt, "agent", teams)]
    fill(rt, 60, lead, agents, teams)
    for actor in (lead, agents[1]):
        for flt in (
            {},
            {"tag": "common"},
            {"q": "fire"},
            {"status": ["new"], "priority": [0, 1, 2, 3]},
        ):
            small = list_statements(rt, actor, 5, **flt)
            large = list_statements(rt, actor, 50, **flt)
            assert small == large, (actor.role, flt)
            # The page (tags, email inside) as one prepared read; no BEGIN for one statement.
            assert small == 1, (actor.role, flt)


def test_reading_one_ticket_costs_a_fixed_number_of_statements(sync_runtime: Runtime) -> None:
    rt = sync_runtime
    lead = user(rt, "supervisor")
    ticket_id = new_ticket(rt, lead, tags=["a", "b", "c"])
    with statements(rt) as few:
        rt.db.run_read(tickets.get_ticket, lead, ticket_id)
    rt.db.run_write(
        tickets.update_ticket, lead, ticket_id, TicketUpdate(add_tags=["d", "e", "f", "g"])
    )
    with statements(rt) as more:
        rt.db.run_read(tickets.get_ticket, lead, ticket_id)
    assert len(few) == len(more)


def test_history_says_who_changed_what(sync_runtime: Runtime) -> None:
    rt = sync_runtime
    lead = user(rt, "supervisor")
    ticket_id = new_ticket(rt, None)
    rt.db.run_write(
        tickets.update_ticket,
        lead,
        ticket_id,
        TicketUpdate(priority="high", tags=["x"]),  # type: ignore[arg-type]
    )
    rt.db.run_write(tickets.update_ticket, None, ticket_id, TicketUpdate(status="pending"))  # type: ignore[arg-type]
    events = rt.db.run_read(conversation.history, lead, ticket_id).items
    rows = [(e.actor_type, e.actor_id, e.kind, e.field, e.old_value, e.new_value) for e in events]
    assert rows == [
        ("system", None, "created", "status", None, "new"),
        ("user", lead.user_id, "changed", "priority", "normal", "high"),
        ("user", lead.user_id, "changed", "tags", "", "x"),
        ("system", None, "changed", "status", "new", "pending"),
    ]
    assert events[1].actor_name == lead.name


def test_history_pages(sync_runtime: Runtime) -> None:
    rt = sync_runtime
    ticket_id = new_ticket(rt, None)
    for n in range(5):
        rt.db.run_write(tickets.update_ticket, None, ticket_id, TicketUpdate(subject=f"s{n}"))
    first = rt.db.run_read(conversation.history, None, ticket_id, None, 4)
    second = rt.db.run_read(conversation.history, None, ticket_id, first.next_cursor, 4)
    assert len(first.items) == 4
    assert second.next_cursor is None
    assert [e.id for e in first.items + second.items] == sorted(
        {e.id for e in first.items + second.items}
    )
    assert len(first.items + second.items) == 6


def test_updated_event_lists_the_changes(sync_runtime: Runtime) -> None:
    rt = sync_runtime
    seen: list[dict[str, Any]] = []
    rt.bus.subscribe("ticket.updated", lambda e: seen.append(e.payload))
    ticket_id = new_ticket(rt, None)
    rt.db.run_write(
        tickets.update_ticket, None, ticket_id, TicketUpdate(category="c", priority="low")
    )  # type: ignore[arg-type]
    assert seen == [
        {
            "ticket_id": ticket_id,
            "actor_id": None,
            "changes": [
                {"field": "category", "old": None, "new": "c"},
                {"field": "priority", "old": "normal", "new": "low"},
            ],
        }
    ]


def test_created_event_payload(sync_runtime: Runtime) -> None:
    rt = sync_runtime
    seen: list[tuple[str, dict[str, Any]]] = []
    rt.bus.subscribe("*", lambda e: seen.append((e.name, e.payload)))
    lead = user(rt, "supervisor")
    seen.clear()
    ticket_id = new_ticket(rt, lead, channel="email", priority="high")
    names = [name for name, _ in seen]
    assert names == ["customer.created", "ticket.created", "message.created"]
    assert seen[1][1] == {
        "ticket_id": ticket_id,
        "requester_id": seen[0][1]["customer_id"],
        "channel": "email",
        "priority": "high",
        "status": "new",
        "team_id": None,
        "assignee_id": None,
        "actor_id": lead.user_id,
    }


def test_times_are_the_clock_s(sync_runtime: Runtime) -> None:
    rt = sync_runtime
    clock = rt.clock
    assert isinstance(clock, FrozenClock)
    ticket_id = new_ticket(rt, None)
    clock.advance(hours=2)
    read = rt.db.run_write(tickets.update_ticket, None, ticket_id, TicketUpdate(status="solved"))  # type: ignore[arg-type]
    assert read.created_at.utcoffset() is not None
    assert read.solved_at == read.updated_at == clock.now()
    assert (read.updated_at - read.created_at).total_seconds() == 7200


@pytest.mark.skipif(not PG_URL, reason="the session time zone is PostgreSQL's")
def test_pages_walk_right_when_the_server_is_not_on_utc(sync_runtime: Runtime) -> None:
    """A PostgreSQL server whose TimeZone is Asia/Shanghai must page by created_at all the same."""
    rt = sync_runtime
    clock = rt.clock
    assert isinstance(clock, FrozenClock)
    ids = []
    for _ in range(5):
        clock.advance(minutes=1)
        ids.append(new_ticket(rt, None))
    rt.db.engine.dispose()

    def shanghai(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'Asia/Shanghai'")
        dbapi_conn.commit()  # a SET inside a transaction would end with its rollback

    event.listen(rt.db.engine, "connect", shanghai)
    seen: list[int] = []
    cursor = None
    while True:
        page = rt.db.run_read(
            tickets.list_tickets, None, TicketFilter(), sort="created_at", cursor=cursor, limit=2
        )
        seen += [t.id for t in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ids


def test_a_service_never_commits(sync_runtime: Runtime) -> None:
    rt = sync_runtime

    def create_then_fail(ctx: Ctx) -> None:
        tickets.create_ticket(
            ctx,
            None,
            TicketCreate.model_validate({"subject": "s", "requester": {"email": "x@example.com"}}),
        )
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        rt.db.run_write(create_then_fail)
    assert rt.db.run_read(tickets.count_tickets, None, TicketFilter()) == 0
