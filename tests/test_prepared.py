"""Prepared reads (``kefu.prepared``): the same SQL and the same answer as
``Connection.execute``, for IN lists of any length, processed parameters (times, JSON paths)
and constants; inside a write they see the write's own changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import Integer, String, bindparam, func, literal, select

from kefu.db import Ctx, table_of
from kefu.prepared import fetch_one
from kefu.runtime import Runtime
from kefu.tickets import service
from kefu.tickets.models import Ticket
from kefu.tickets.schemas import TicketCreate

tickets = table_of(Ticket)
# Counts tickets by IN lists, a time bound (processed: aware UTC to naive), a JSON path
# (processed into '$."region"' on SQLite) and constants ('low' and 3 are bound literals).
STATEMENT = select(
    func.count(),
    func.coalesce(func.sum(tickets.c.priority), 0),
    func.max(tickets.c.id),
    func.lower(bindparam("word", type_=String)),
).where(
    tickets.c.status.in_(bindparam("statuses", expanding=True)),
    tickets.c.id.in_(bindparam("ids", expanding=True)),
    tickets.c.created_at >= bindparam("since", type_=tickets.c.created_at.type),
    (tickets.c.custom_fields["region"].as_string() == bindparam("region", type_=String))
    | (tickets.c.priority < 3)
    | (tickets.c.subject == "low"),
    tickets.c.version >= bindparam("version", type_=Integer),
)


def both(ctx: Ctx, params: dict[str, Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    prepared = tuple(fetch_one(ctx.session, STATEMENT, params))
    executed = tuple(ctx.session.connection().execute(STATEMENT, params).one())
    return prepared, executed


def make_ticket(ctx: Ctx, status: str, fields: dict[str, Any]) -> int:
    data = TicketCreate(subject="s", body="b", requester={"email": "a@example.com"})
    created = service.create_ticket(ctx, None, data)
    ticket = ctx.session.get_one(Ticket, created.id)
    ticket.status, ticket.priority, ticket.custom_fields = status, 3, fields
    return created.id


def test_a_prepared_read_answers_as_execute_does(runtime: Runtime) -> None:
    made = [("new", {"region": "north"}), ("open", {"region": "south"}), ("open", {})]
    ids = [runtime.db.run_write(make_ticket, status, fields) for status, fields in made]
    now = datetime.now(UTC)
    later = now + timedelta(days=1)
    cases: list[tuple[dict[str, Any], tuple[Any, ...]]] = [
        ({"statuses": ["open"], "ids": ids, "region": "south"}, (1, 3, ids[1], "ok")),
        ({"statuses": ["new", "open"], "ids": ids, "region": "north"}, (1, 3, ids[0], "ok")),
        ({"statuses": ["new", "solved"], "ids": ids[:2], "region": "north"}, (1, 3, ids[0], "ok")),
        ({"statuses": ["new", "open", "x"], "ids": ids[1:], "region": "north"}, (0, 0, None, "ok")),
        ({"statuses": ["new"], "ids": ids, "region": "north", "since": later}, (0, 0, None, "ok")),
    ]
    for case, expected in cases:
        params = {"since": now - timedelta(days=1), "version": 1, "word": "OK", **case}
        prepared, executed = runtime.db.run_read(both, params)
        assert prepared == executed == expected, case


def test_inside_a_write_a_prepared_read_sees_the_write(runtime: Runtime) -> None:
    first = runtime.db.run_write(make_ticket, "open", {"region": "x"})
    params = {
        "statuses": ["open"],
        "ids": [first, first + 1],
        "since": datetime(2000, 1, 1, tzinfo=UTC),
        "region": "x",
        "version": 1,
        "word": "",
    }

    def add_and_count(ctx: Ctx) -> int:
        ticket = ctx.session.get_one(Ticket, first)
        copy = Ticket(**{c.key: getattr(ticket, c.key) for c in tickets.c if c.key != "id"})
        copy.id = first + 1
        ctx.session.add(copy)  # pending: a prepared read flushes it first
        return int(fetch_one(ctx.session, STATEMENT, params)[0])

    assert runtime.db.run_read(lambda ctx: fetch_one(ctx.session, STATEMENT, params)[0]) == 1
    assert runtime.db.run_write(add_and_count) == 2


def test_a_prepared_read_fails_as_execute_does(runtime: Runtime) -> None:
    """A number the database cannot hold fails with the exception ``Connection.execute``
    raises (PostgreSQL: SQLAlchemy's DataError; SQLite: OverflowError), which the API
    answers with 422."""
    params = {
        "statuses": ["open"],
        "ids": [1],
        "since": datetime(2000, 1, 1, tzinfo=UTC),
        "region": "x",
        "version": 2**70,
        "word": "",
    }

    def failures(ctx: Ctx) -> list[type[BaseException]]:
        found: list[type[BaseException]] = []
        for read in (
            lambda: fetch_one(ctx.session, STATEMENT, params),
            lambda: ctx.session.connection().execute(STATEMENT, params).one(),
        ):
            try:
                read()
            except Exception as exc:
                found.append(type(exc))
        return found

    prepared, executed = runtime.db.run_read(failures)
    assert prepared is executed


def test_a_prepared_read_hands_its_connection_back_as_it_found_it(runtime: Runtime) -> None:
    """Outside a transaction a prepared read runs in autocommit (psycopg would otherwise
    send BEGIN, and the pool a ROLLBACK): the pooled connections come back idle, and on
    PostgreSQL out of autocommit again, so the next transaction is one."""
    engine = runtime.db.engine
    one = select(literal(1))
    for _ in range(3):
        assert runtime.db.run_read(lambda ctx: fetch_one(ctx.session, one, {}))[0] == 1
    pooled = [engine.raw_connection() for _ in range(engine.pool.checkedin())]
    try:
        assert pooled
        for connection in pooled:
            dbapi: Any = connection.dbapi_connection
            if engine.dialect.name == "postgresql":
                assert dbapi.autocommit is False
                assert dbapi.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            else:
                assert dbapi.in_transaction is False
    finally:
        for connection in pooled:
            connection.close()
