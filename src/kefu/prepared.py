"""Prepared reads: a Core statement run on the DBAPI cursor, for the hottest reads.

``Connection.execute`` prepares each run of a statement again in Python: the compiled
cache's lookup, the parameters checked, expanded (IN lists) and processed, the result's
metadata built. For the ticket list's page statement that cost about 0.45 ms a run, more than
SQLite took to run it. A ``Plan`` does that work once per statement and per length of each
IN list; a run then builds the parameter tuple and calls the cursor.

The statement still comes from SQLAlchemy's compiler, so SQL and parameter order are what
``Connection.execute`` would send. Rows come back as the driver returns them (no result
processing), which suits statements that select their own JSON, bytes, text and numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

_CONSTANT = object()  # a slot whose value is fixed in the statement
# Called with the SQL of each prepared read before it runs. SQLAlchemy's
# ``before_cursor_execute`` does not see these reads: tests and bench.api that count a
# page's statements listen here too.
STATEMENT_HOOKS: list[Callable[[str], None]] = []


@dataclass(frozen=True)
class _Slot:
    name: str  # the parameter the caller passes, or the placeholder's own for a constant
    index: int | None  # the position in the caller's list, for an IN list's element
    process: Callable[[Any], Any] | None
    constant: Any = _CONSTANT


@dataclass(frozen=True)
class Plan:
    sql: str
    slots: tuple[_Slot, ...]
    placeholders: tuple[str, ...] | None  # names, for a driver with named parameters

    def arguments(self, params: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = [_value(slot, params) for slot in self.slots]
        if self.placeholders is None:
            return tuple(values)
        return dict(zip(self.placeholders, values, strict=True))


def _value(slot: _Slot, params: Mapping[str, Any]) -> Any:
    if slot.constant is not _CONSTANT:
        return slot.constant
    value = params[slot.name]
    if slot.index is not None:
        value = value[slot.index]
    return value if slot.process is None else slot.process(value)


def fetch_one(session: Session, statement: Select[Any], params: Mapping[str, Any]) -> Any:
    """The one row ``statement`` gives, as the driver returns it. Inside the session's
    transaction (a write job, say: it may read what it just changed) on its connection,
    pending changes flushed first; otherwise on a pooled connection of its own, without
    beginning a transaction (one statement is one snapshot)."""
    bind = session.get_bind()
    plan = _plan(statement, bind.dialect, _lengths(statement, bind.dialect, params))
    if session.in_transaction():
        if session.autoflush:
            session.flush()
        in_transaction = session.connection().connection.dbapi_connection
        return _run(in_transaction, plan, params, bind.dialect)
    connection = bind.raw_connection()  # type: ignore[union-attr]
    dbapi_connection = cast(Any, connection.dbapi_connection)
    # psycopg would send BEGIN first and the pool a ROLLBACK after: two round trips more.
    # (kefu's SQLite connections are in autocommit mode already: isolation_level=None.)
    autocommit = bind.dialect.name == "postgresql"
    if autocommit:
        dbapi_connection.autocommit = True
    try:
        return _run(dbapi_connection, plan, params, bind.dialect)
    finally:
        if autocommit:
            dbapi_connection.autocommit = False
        connection.close()


def _run(dbapi_connection: Any, plan: Plan, params: Mapping[str, Any], dialect: Dialect) -> Any:
    for hook in STATEMENT_HOOKS:
        hook(plan.sql)
    arguments = plan.arguments(params)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(plan.sql, arguments)
        return cursor.fetchone()
    except dialect.loaded_dbapi.Error as exc:
        # Raised as Connection.execute raises it (a number out of range is a DataError).
        raise DBAPIError.instance(plan.sql, arguments, exc, dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()


def _lengths(
    statement: Select[Any], dialect: Dialect, params: Mapping[str, Any]
) -> tuple[int, ...]:
    return tuple(len(params[name]) for name in _expanding(statement, dialect))


@lru_cache(maxsize=512)
def _expanding(statement: Select[Any], dialect: Dialect) -> tuple[str, ...]:
    """The names of ``statement``'s IN-list parameters."""
    compiled = statement.compile(dialect=dialect)
    return tuple(sorted(name for name, bind in compiled.binds.items() if bind.expanding))


@lru_cache(maxsize=1024)
def _plan(statement: Select[Any], dialect: Dialect, lengths: tuple[int, ...]) -> Plan:
    compiled = statement.compile(dialect=dialect)
    # Any values of the right lengths give the SQL and the placeholders' order.
    sample = {
        name: [None] * n for name, n in zip(_expanding(statement, dialect), lengths, strict=True)
    }
    given = {name for name, bind in compiled.binds.items() if bind.value is None}
    if any(compiled.binds[name].literal_execute for name in given):
        raise ValueError("a prepared read cannot take a parameter rendered into its SQL")
    state = compiled.construct_expanded_state({**dict.fromkeys(given), **sample})
    origin = {
        expanded: (name, n)
        for name, names in state.parameter_expansion.items()
        for n, expanded in enumerate(names)
    }
    placeholders = tuple(state.positiontup or state.parameters)
    slots = []
    for placeholder in placeholders:
        name, index = origin.get(placeholder, (placeholder, None))
        # The expanded state holds an IN list's processors; the compiled statement the rest.
        process = cast(
            "Callable[[Any], Any] | None",
            state.processors.get(placeholder) or compiled._bind_processors.get(name),
        )
        if name in given or name in sample:
            slots.append(_Slot(name, index, process))
        else:
            value = state.parameters[placeholder]
            slots.append(_Slot(name, None, None, process(value) if process else value))
    named = None if state.positiontup else placeholders
    return Plan(state.statement, tuple(slots), named)
