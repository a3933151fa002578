"""The queries of ticket lists and counts (the repository of lists; single tickets and writes
are in ``repository.py``).

A page is one statement whatever its size: the tickets with their requester's, assignee's and
team's names, and, as correlated subqueries, the requester's oldest email and the tags.
Pagination is keyset (sort value, id), so page 1,000 costs what page 1 costs.

Statements are built once per *shape* (the filters set, the sort, the kind of visibility,
the dialect) with every value as a bound parameter, then cached: building a statement of this
size and hashing it into SQLAlchemy's cache key cost more CPU than SQLite spent running it.
A filter becomes ``Criteria``: its ``terms`` say which conditions apply (the cache key), its
``params`` carry the values.

On SQLite a page comes back as one row, a JSON array of the tickets' column values: Python's
sqlite3 releases the GIL around every row it steps to, and under load each release handed the
GIL to another thread and back (about 500 futex calls and 2 ms of CPU per page of 50).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, Result
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import UnaryExpression

from kefu.accounts.models import Team, User
from kefu.customers.models import Customer, CustomerIdentity
from kefu.db import read_json, table_of
from kefu.kit.text import Token, query_words
from kefu.security.permissions import Principal, Role
from kefu.tickets.models import Ticket, TicketTag
from kefu.tickets.repository import TicketFilter

SORTS = ("created_at", "updated_at", "priority", "id")
TAG_SEPARATOR = " "  # tags never hold a space (kit.validators.normalise_tag)

_tickets = table_of(Ticket)
_tags = table_of(TicketTag)
_teams = table_of(Team)
_customers = table_of(Customer)
_identities = table_of(CustomerIdentity)
_assignees = table_of(User).alias("assignee")

Term = tuple[Hashable, ...]
# Filter values compared with "=" (or IN, for lists), by parameter name.
_COLUMNS = {
    "status": _tickets.c.status,
    "priority": _tickets.c.priority,
    "ids": _tickets.c.id,
    "assignee_id": _tickets.c.assignee_id,
    "team_id": _tickets.c.team_id,
    "team_ids": _tickets.c.team_id,
    "channel": _tickets.c.channel,
    "requester_id": _tickets.c.requester_id,
}
_BOUNDS: dict[str, tuple[Any, Callable[[Any, Any], ColumnElement[bool]]]] = {
    "created_from": (_tickets.c.created_at, operator.ge),
    "created_to": (_tickets.c.created_at, operator.lt),
    "updated_from": (_tickets.c.updated_at, operator.ge),
    "updated_to": (_tickets.c.updated_at, operator.lt),
}


@dataclass
class Criteria:
    """A filter as the shape of its SQL (``terms``, part of a cache key) and its values."""

    terms: list[Term] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def add(self, term: Term, **params: Any) -> None:
        self.terms.append(term)
        self.params.update(params)

    def shape(self) -> tuple[Term, ...]:
        return tuple(self.terms)


# -- from a filter to criteria -------------------------------------------------------------
def filter_criteria(f: TicketFilter, dialect: str) -> Criteria:
    c = Criteria()
    for name in ("status", "priority", "ids"):
        if values := getattr(f, name):
            c.add(("in", name), **{name: list(values)})
    if f.unassigned:
        c.add(("unassigned",))
    elif f.assignee_id is not None:
        c.add(("eq", "assignee_id"), assignee_id=f.assignee_id)
    for name in ("team_id", "channel", "requester_id"):
        if (value := getattr(f, name)) is not None:
            c.add(("eq", name), **{name: value})
    if f.tag:
        c.add(("tag",), tag=f.tag)
    if f.team_ids:
        # One team as "=": an IN list, even of one, keeps SQLite from reading in index order.
        one = len(f.team_ids) == 1
        c.add(("eq" if one else "in", "team_ids"), team_ids=f.team_ids[0] if one else f.team_ids)
    if f.solved_from is not None:
        c.add(("solved_from",), solved_from=f.solved_from)
    for name in _BOUNDS:
        if (value := getattr(f, name)) is not None:
            c.add(("bound", name), **{name: value})
    if f.q:
        add_search(c, f.q, dialect)
    return c


def add_search(c: Criteria, q: str, dialect: str) -> None:
    """Tickets where each word of ``q`` is found in the subject or in one of the messages."""
    words = query_words(q)
    if not words:
        c.add(("nothing",))
    for n, word in enumerate(words):
        c.add(("search", n), **{f"search_{n}": _search_text(word, dialect)})


def _search_text(word: list[Token], dialect: str) -> str:
    if dialect == "sqlite":
        return " ".join(f'"{t}"' + ("*" if prefix else "") for t, prefix in word)
    return " & ".join(f"'{t}'" + (":*" if prefix else "") for t, prefix in word)


def add_custom_field(c: Criteria, key: str, kind: str, value: Any, dialect: str) -> None:
    """Tickets whose custom field ``key`` (of type ``kind``) holds ``value``; for a
    multi-select, tickets where ``value`` is one of the options chosen."""
    n = sum(1 for term in c.terms if term[0] == "custom")
    if kind == "number":
        bound: Any = float(value)
    elif kind == "checkbox":
        bound = bool(value)
    elif kind == "multi_select" and dialect == "postgresql":
        bound = [value]  # JSONB containment
    else:
        bound = str(value)
    c.add(("custom", n, key, kind), **{f"custom_{n}": bound})


def add_visibility(c: Criteria, principal: Principal) -> None:
    """The SQL twin of ``permissions.can_see_ticket``."""
    if principal.sees_all_tickets:
        return
    if principal.role == Role.field_engineer:
        c.add(("assigned_to_me",), me=principal.user_id)
    elif principal.team_ids:
        c.add(("visible", True), me=principal.user_id, my_teams=sorted(principal.team_ids))
    else:
        c.add(("visible", False), me=principal.user_id)


# -- from criteria to SQL ------------------------------------------------------------------
def _clause(term: Term, dialect: str) -> ColumnElement[bool]:
    match term:
        case ("in", str(name)):
            return _COLUMNS[name].in_(bindparam(name, expanding=True))
        case ("eq", str(name)):
            return _COLUMNS[name] == bindparam(name)
        case ("unassigned",):
            return _tickets.c.assignee_id.is_(None)
        case ("tag",):
            return exists().where(
                _tags.c.ticket_id == _tickets.c.id, _tags.c.tag == bindparam("tag")
            )
        case ("solved_from",):
            # Solving stamps updated_at too, so the implied bound lets the status index work.
            since: Any = bindparam("solved_from")
            return and_(_tickets.c.solved_at >= since, _tickets.c.updated_at >= since)
        case ("bound", str(name)):
            column, compare = _BOUNDS[name]
            return compare(column, bindparam(name))
        case ("nothing",):
            return false()
        case ("search", int(n)):
            return _search_clause(f"search_{n}", dialect)
        case ("custom", int(n), str(key), str(kind)):
            return _custom_clause(f"custom_{n}", key, kind, dialect)
        case ("assigned_to_me",):
            return _tickets.c.assignee_id == bindparam("me")
        case ("visible", bool(has_teams)):
            hidden = select(_teams.c.id).where(_teams.c.private.is_(True))
            if has_teams:
                hidden = hidden.where(_teams.c.id.not_in(bindparam("my_teams", expanding=True)))
            mine = _tickets.c.assignee_id == bindparam("me")
            return or_(_tickets.c.team_id.is_(None), _tickets.c.team_id.not_in(hidden), mine)
    raise ValueError(f"unknown list term {term!r}")


def _search_clause(name: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "sqlite":
        found = text(f"SELECT ticket_id FROM ticket_fts WHERE ticket_fts MATCH :{name}")
    else:
        found = text(
            f"SELECT ticket_id FROM ticket_search WHERE document @@ CAST(:{name} AS tsquery)"
        )
    return _tickets.c.id.in_(found.columns(ticket_id=Integer))


def _custom_clause(name: str, key: str, kind: str, dialect: str) -> ColumnElement[bool]:
    element = _tickets.c.custom_fields[key]
    if kind == "number":
        return element.as_float() == bindparam(name, type_=Float)
    if kind == "checkbox":
        return element.as_boolean() == bindparam(name, type_=Boolean)
    if kind != "multi_select":
        return element.as_string() == bindparam(name, type_=String)
    if dialect == "sqlite":
        chosen = func.json_each(_tickets.c.custom_fields, literal(f'$."{key}"'))
        values = chosen.table_valued("value")
        return exists().select_from(values).where(values.c.value == bindparam(name, type_=String))
    return type_coerce(_tickets.c.custom_fields, JSONB)[key].contains(bindparam(name))


def _where(shape: tuple[Term, ...], dialect: str) -> list[ColumnElement[bool]]:
    return [_clause(term, dialect) for term in shape]


def _ordered(keys: list[Any], descending: bool) -> list[UnaryExpression[Any]]:
    return [k.desc() if descending else k.asc() for k in keys]


# -- the page ------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def summary_select(dialect: str) -> Select[Any]:
    """The ticket's columns as plain rows (ORM objects cost more than the query), with the
    requester's, assignee's and team's names, the requester's oldest email and the tags."""
    t = _tickets
    email = (
        select(_identities.c.value)
        .where(_identities.c.customer_id == t.c.requester_id, _identities.c.kind == "email")
        .order_by(_identities.c.id)
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(
            *t.c,
            _customers.c.name.label("requester_name"),
            email.label("requester_email"),
            _assignees.c.name.label("assignee_name"),
            _teams.c.name.label("team_name"),
            _teams.c.private.label("team_private"),
            _tags_column(dialect).label("tags"),
        )
        .join_from(t, _customers, _customers.c.id == t.c.requester_id)
        .outerjoin(_assignees, _assignees.c.id == t.c.assignee_id)
        .outerjoin(_teams, _teams.c.id == t.c.team_id)
    )


def _tags_column(dialect: str) -> Any:
    """The ticket's tags in tag order, joined by TAG_SEPARATOR (NULL when it has none)."""
    tag, own = _tags.c.tag, _tags.c.ticket_id == _tickets.c.id
    if dialect == "postgresql":
        joined = func.aggregate_strings(tag, TAG_SEPARATOR).aggregate_order_by(tag)
        return select(joined).where(own).scalar_subquery()
    # SQLite before 3.44 has no ORDER BY inside an aggregate: aggregate an ordered subquery.
    ordered = select(tag).where(own).order_by(tag).correlate(_tickets).subquery()
    return select(func.aggregate_strings(ordered.c.tag, TAG_SEPARATOR)).scalar_subquery()


def tags_in(value: str | None) -> list[str]:
    """The tags of a ``summary_select`` row."""
    return value.split(TAG_SEPARATOR) if value else []


@lru_cache(maxsize=4)
def _by_ids(dialect: str) -> Select[Any]:
    return summary_select(dialect).where(_tickets.c.id.in_(bindparam("ids", expanding=True)))


Row = Mapping[str, Any]


def summary_rows(session: Session, ids: Iterable[int]) -> list[Row]:
    statement = _by_ids(_dialect(session))
    return _rows(session, statement, {"ids": sorted(set(ids))})


def list_page(
    session: Session,
    c: Criteria,
    sort: str,
    after: tuple[Any, int] | None,
    limit: int,
) -> list[Row]:
    """One page in sort order. With several statuses, the page's ids are found per status
    along its (status, sort column, id) index and merged: with an IN list SQLite sorted every
    matching ticket (a million-row table: seconds)."""
    key, descending = sort.lstrip("-"), sort.startswith("-")
    statuses = list(dict.fromkeys(c.params.get("status", ())))
    merged = len(statuses) if len(statuses) > 1 and key != "id" else 0
    statement = _page_statement(
        _dialect(session), c.shape(), key, descending, after is not None, merged
    )
    params = {**c.params, "limit": limit}
    params.update({f"status_{n}": s for n, s in enumerate(statuses[:merged])})
    if after is not None:
        params["after_value"], params["after_id"] = after
    rows = _rows(session, statement, params)
    # In sort order whatever order the one-row read aggregated them in (SQLite < 3.44 has no
    # ORDER BY inside an aggregate); sort values and ids are never NULL.
    rows.sort(key=lambda row: (row[key], row["id"]), reverse=descending)
    return rows


@lru_cache(maxsize=512)
def _page_statement(
    dialect: str, shape: tuple[Term, ...], key: str, descending: bool, after: bool, merged: int
) -> Select[Any]:
    column = _tickets.c[key]
    conditions = _where(shape, dialect)
    if after:
        # Typed as the columns are, so a datetime is bound as kefu stores it (naive UTC).
        bound = tuple_(
            bindparam("after_value", type_=column.type), bindparam("after_id", type_=Integer)
        )
        page_key = tuple_(column, _tickets.c.id)
        conditions.append(page_key < bound if descending else page_key > bound)
    if merged:
        # The ids alone then, so the page is read by primary key, not along the status index.
        conditions = [_tickets.c.id.in_(_merged_ids(conditions, merged, column, descending))]
    order = _ordered([column, _tickets.c.id], descending)
    limit = bindparam("limit", type_=Integer)
    return summary_select(dialect).where(*conditions).order_by(*order).limit(limit)


def _merged_ids(
    conditions: list[ColumnElement[bool]], statuses: int, column: Any, descending: bool
) -> Select[Any]:
    """The first ``limit`` ids of each status in sort order (index-only walks), merged."""
    limit = bindparam("limit", type_=Integer)
    parts = [
        select(
            select(_tickets.c.id, column)
            .where(*conditions, _tickets.c.status == bindparam(f"status_{n}"))
            .order_by(*_ordered([column, _tickets.c.id], descending))
            .limit(limit)
            .subquery()
        )
        for n in range(statuses)
    ]
    merged = union_all(*parts).subquery()
    order = _ordered([merged.c[column.key], merged.c.id], descending)
    return select(merged.c.id).order_by(*order).limit(limit)


# -- counts --------------------------------------------------------------------------------
def count_matching(session: Session, c: Criteria) -> int:
    statement = _count_statement(_dialect(session), c.shape(), capped=False)
    return int(_execute(session, statement, c.params).scalar_one())


def count_capped(session: Session, c: Criteria, cap: int) -> int:
    """Counts at most ``cap`` rows, so a view of 300,000 open tickets costs what 1,000 do."""
    statement = _count_statement(_dialect(session), c.shape(), capped=True)
    params = {**c.params, "cap": cap}
    return int(_execute(session, statement, params).scalar_one())


@lru_cache(maxsize=512)
def _count_statement(dialect: str, shape: tuple[Term, ...], capped: bool) -> Select[Any]:
    conditions = _where(shape, dialect)
    if not capped:
        return select(func.count()).select_from(_tickets).where(*conditions)
    first = select(_tickets.c.id).where(*conditions).limit(bindparam("cap", type_=Integer))
    return select(func.count()).select_from(first.subquery())


# -- running -------------------------------------------------------------------------------
def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _execute(session: Session, statement: Select[Any], params: dict[str, Any]) -> Result[Any]:
    """Runs on the session's connection: a Core statement gains nothing from the ORM's
    execute path, which cost more than SQLite did. Pending ORM changes are flushed first, as
    ``Session.execute`` would (a write may list what it just changed)."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(statement, params)


def _rows(session: Session, statement: Select[Any], params: dict[str, Any]) -> list[Row]:
    dialect = session.get_bind().dialect
    if dialect.name != "sqlite":
        return cast(list[Row], list(_execute(session, statement, params).mappings().all()))
    one_row, names, processors = _as_one_row(statement, dialect)
    packed = _execute(session, one_row, params).scalar_one()
    rows: list[Row] = []
    for values in read_json(packed):
        for n, process in processors:
            values[n] = process(values[n])
        rows.append(dict(zip(names, values, strict=True)))
    return rows


@lru_cache(maxsize=512)
def _as_one_row(
    statement: Select[Any], dialect: Dialect
) -> tuple[Select[Any], tuple[str, ...], tuple[tuple[int, Callable[[Any], Any]], ...]]:
    """``statement``'s rows as one JSON array of arrays, its column names, and the result
    processors (by position) the columns' types give on this dialect. A column's value
    passes through JSON as what SQLite holds (text, integer or NULL), so each processor sees
    the value it would have seen in a row of its own."""
    page = statement.subquery()
    processors = []
    for n, column in enumerate(page.c):
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if process is not None:
            processors.append((n, process))
    packed = select(func.coalesce(func.json_group_array(func.json_array(*page.c)), "[]"))
    return packed, tuple(page.c.keys()), tuple(processors)
