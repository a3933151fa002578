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

The database writes each ticket's ``TicketSummary`` JSON (``summary_select``). A page comes
back as one row: the items' JSON end to end as bytes, and a JSON array of each item's key and
size; Python slices the bytes and never parses them (``list_page``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    Integer,
    LargeBinary,
    Select,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Result
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import UnaryExpression

from kefu.accounts.models import Team, User
from kefu.customers.models import Customer, CustomerIdentity
from kefu.db import read_json, table_of
from kefu.kit.text import Token, query_words
from kefu.prepared import fetch_one
from kefu.security.permissions import Principal, Role
from kefu.tickets.models import RANK_PRIORITY, Ticket, TicketTag
from kefu.tickets.repository import TicketFilter

SORTS = ("created_at", "updated_at", "priority", "id")

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
    """Each ticket as its ``TicketSummary`` JSON, written by the database (column ``item``),
    beside the values lists sort by and a single read checks visibility with.

    The database writes the JSON because turning 22 columns of 50 rows into Python values
    and then into JSON again cost more CPU than the query did; ``tests/tickets/test_list.py``
    holds every field to what the ORM's objects say."""
    t, sql = _tickets, _Json(dialect)
    email = (
        select(_identities.c.value)
        .where(_identities.c.customer_id == t.c.requester_id, _identities.c.kind == "email")
        .order_by(_identities.c.id)
        .limit(1)
        .scalar_subquery()
    )
    requester = sql.object(id=t.c.requester_id, name=_customers.c.name, email=email)
    assignee = sql.object(id=t.c.assignee_id, name=_assignees.c.name, email=null())
    team = sql.object(id=t.c.team_id, name=_teams.c.name)
    item = sql.object(
        id=t.c.id,
        subject=t.c.subject,
        status=t.c.status,
        priority=case(
            *((t.c.priority == _int(rank), _text(p)) for rank, p in RANK_PRIORITY.items())
        ),
        type=t.c.type,
        category=t.c.category,
        channel=t.c.channel,
        language=t.c.language,
        requester=requester,
        assignee=case((t.c.assignee_id.is_not(None), assignee)),
        team=case((t.c.team_id.is_not(None), team)),
        tags=sql.tags(),
        custom_fields=sql.json_object_or_empty(t.c.custom_fields),
        version=t.c.version,
        merged_into_id=t.c.merged_into_id,
        **{name: sql.utc_text(t.c[name]) for name in _TIMES},
    )
    return (
        select(
            cast(item, Text).label("item"),  # text on both: psycopg would parse json
            *(t.c[name] for name in SORTS),
            t.c.team_id,
            t.c.assignee_id,
            _teams.c.private.label("team_private"),
        )
        .join_from(t, _customers, _customers.c.id == t.c.requester_id)
        .outerjoin(_assignees, _assignees.c.id == t.c.assignee_id)
        .outerjoin(_teams, _teams.c.id == t.c.team_id)
    )


_TIMES = ("created_at", "updated_at", "first_responded_at", "solved_at", "closed_at")


class _Json:
    """The JSON functions of one dialect, as ``summary_select`` needs them."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"

    def object(self, **fields: Any) -> ColumnElement[Any]:
        build = func.json_object if self.sqlite else func.json_build_object
        return build(*(part for key, value in fields.items() for part in (_text(key), value)))

    def utc_text(self, column: Any) -> ColumnElement[Any]:
        """A stored naive UTC time as pydantic and orjson write it: ISO 8601 with "Z",
        microseconds only when there are some."""
        if self.sqlite:
            iso = func.replace(column, _text(" "), _text("T"), type_=String)
        else:
            iso = func.to_char(column, _text('YYYY-MM-DD"T"HH24:MI:SS.US'), type_=String)
        return func.replace(iso, _text(".000000"), _text(""), type_=String) + _text("Z")

    def tags(self) -> ColumnElement[Any]:
        """The ticket's tags in tag order, as a JSON array."""
        tag, own = _tags.c.tag, _tags.c.ticket_id == _tickets.c.id
        if not self.sqlite:
            tags = select(func.json_agg(tag).aggregate_order_by(tag)).where(own)
            return func.coalesce(tags.scalar_subquery(), literal_column("'[]'::json"))
        # SQLite before 3.44 has no ORDER BY inside an aggregate: aggregate an ordered subquery.
        ordered = select(tag).where(own).order_by(tag).correlate(_tickets).subquery()
        return select(func.json_group_array(ordered.c.tag)).scalar_subquery()

    def json_object_or_empty(self, column: Any) -> ColumnElement[Any]:
        """A JSON column that holds an object, or ``{}`` where it holds JSON null."""
        if self.sqlite:  # JSON null is stored as the text "null"; json() parses once
            return func.json(case((column == _text("null"), _text("{}")), else_=column))
        is_object = func.jsonb_typeof(column) == _text("object")
        return case((is_object, column), else_=literal_column("'{}'::jsonb"))


def _int(value: int) -> ColumnElement[Any]:
    return literal_column(str(int(value)), Integer)


def _text(value: str) -> ColumnElement[Any]:
    """A constant written into the statement (not a bound parameter): these are kefu's own."""
    return literal_column("'" + value.replace("'", "''") + "'", String)


@lru_cache(maxsize=4)
def _by_ids(dialect: str) -> Select[Any]:
    return summary_select(dialect).where(_tickets.c.id.in_(bindparam("ids", expanding=True)))


Row = Mapping[str, Any]


def summary_rows(session: Session, ids: Iterable[int]) -> list[Row]:
    """``summary_select`` rows of these tickets (``read_json(row["item"])`` is the summary)."""
    statement = _by_ids(_dialect(session))
    rows = _execute(session, statement, {"ids": sorted(set(ids))}).mappings()
    return [dict(row) for row in rows]


@dataclass
class Page:
    """A page in sort order: each item's ``TicketSummary`` JSON as UTF-8 bytes, and each
    item's key as stored, (sort value, id), which the next page's cursor holds."""

    items: list[bytes]
    keys: list[tuple[Any, int]]


def list_page(
    session: Session,
    c: Criteria,
    sort: str,
    after: tuple[Any, int] | None,
    limit: int,
) -> Page:
    """One page in sort order, read as one row: the items' JSON end to end as bytes, and
    their keys and byte sizes as a JSON array. Python's sqlite3 releases the GIL around every
    row it steps to (under load each release handed the GIL to another thread and back), and
    bytes reach the response without being decoded, parsed or encoded again.

    With several statuses, the page's ids are found per status along its (status, sort
    column, id) index and merged: with an IN list SQLite sorted every matching ticket (a
    million-row table: seconds)."""
    key, descending = sort.lstrip("-"), sort.startswith("-")
    statuses = list(dict.fromkeys(c.params.get("status", ())))
    merged = len(statuses) if len(statuses) > 1 and key != "id" else 0
    dialect = _dialect(session)
    statement = _page_statement(dialect, c.shape(), key, descending, after is not None, merged)
    params = {**c.params, "limit": limit}
    params.update({f"status_{n}": s for n, s in enumerate(statuses[:merged])})
    if after is not None:
        params["after_value"], params["after_id"] = after
    joined, keys = fetch_one(session, _packed(statement, key, dialect), params)
    rows: list[tuple[tuple[Any, int], bytes]] = []
    start = 0
    for value, ticket_id, size in read_json(keys):
        rows.append(((value, ticket_id), joined[start : start + size]))
        start += size
    # In sort order whatever order the aggregate saw them in (SQLite < 3.44 has no ORDER BY
    # inside an aggregate); sort values and ids are never NULL.
    rows.sort(key=operator.itemgetter(0), reverse=descending)
    return Page([item for _, item in rows], [page_key for page_key, _ in rows])


@lru_cache(maxsize=512)
def _packed(statement: Select[Any], key: str, dialect: str) -> Select[Any]:
    """``statement``'s items end to end as one UTF-8 value, and a JSON array of their
    [key, id, size in bytes]."""
    page = statement.subquery()
    joined: ColumnElement[Any]
    keys: ColumnElement[Any]
    if dialect == "sqlite":
        item = cast(page.c.item, LargeBinary)
        joined = cast(func.group_concat(item, _text("")), LargeBinary)
        keys = func.json_group_array(func.json_array(page.c[key], page.c.id, func.length(item)))
    else:
        joined = func.convert_to(func.string_agg(page.c.item, _text("")), _text("UTF8"))
        triple = func.json_build_array(page.c[key], page.c.id, func.octet_length(page.c.item))
        keys = cast(func.json_agg(triple), Text)
    return select(joined, func.coalesce(keys, _text("[]")))  # joined is NULL for no items


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
