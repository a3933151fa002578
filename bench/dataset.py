"""A ticket store of a stated size for the benchmarks, built once and cached.

Teams, users and the first API token go through the services. Customers, tickets and
everything a ticket created through the API has (its first message, history row, tags and
the search rows of its subject and message) are bulk-inserted with executemany through
SQLAlchemy Core and the models' own tables, so they are the rows kefu itself writes, in a
fraction of the time. The SQLite file (or the PostgreSQL database) is kept under
``bench/results/`` (git-ignored) and copied for each run, so a run never changes it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import Connection, Engine, make_url

from kefu.accounts import service as accounts
from kefu.accounts.models import Role
from kefu.accounts.schemas import TeamCreate, TokenCreate, UserCreate
from kefu.config import Settings
from kefu.customers.models import Customer, CustomerIdentity
from kefu.db import make_engine, normalise_url, table_of
from kefu.kit.text import search_document
from kefu.migrate import upgrade as migrate_upgrade
from kefu.runtime import Runtime
from kefu.tickets.models import Message, Ticket, TicketEvent, TicketTag

RESULTS = Path(__file__).parent / "results"
LOADER_VERSION = 2  # bump when the rows written here change, to rebuild cached stores
CHUNK = 20_000
CUSTOMERS_PER_TICKET = 0.1
DAYS = 365
PASSWORD = "bench-password-123"
ADMIN = "admin@bench.example.com"
AGENT = "agent1@bench.example.com"
STATUSES = ["new", "open", "pending", "on_hold", "solved", "closed"]
STATUS_WEIGHTS = [5, 10, 8, 2, 25, 50]
CHANNELS = ["email", "web", "whatsapp", "wechat", "telegram", "sms", "voice", "api"]
SUBJECTS = [
    "Refund for order {n}",
    "Invoice needed for order {n}",
    "Cannot log in to my account",
    "Parcel {n} has not arrived",
    "订单{n}什么时候发货？",
    "申请退款：订单{n}",
    "发票抬头写错了",
    "物流信息三天没更新",
    "账号被锁定了",
]
BODIES = [
    "Hello, my order {n} still shows as processing. Could you check what is going on?",
    "The device stopped charging after a week. Serial number {n}. Please advise.",
    "你好，订单{n}到现在还没有发货，请帮我查一下是什么原因，谢谢。",
    "收到的商品有破损，申请退款，订单号{n}，照片见附件。",
]


def customer_email(n: int) -> str:
    """The bench's customers are customer1@... customerN@...; the create load reuses them."""
    return f"customer{n}@bench.example.com"


@dataclass(frozen=True)
class Store:
    db: str
    url: str
    tickets: int
    customers: int


def is_postgres(url: str) -> bool:
    return not url.startswith("sqlite")


# -- the cached store ----------------------------------------------------------------------
def cached_store(db: str, tickets: int, pg_url: str | None, log: Any = print) -> Store:
    """The store of ``tickets`` tickets, built now if it is not cached yet."""
    customers = max(1, int(tickets * CUSTOMERS_PER_TICKET))
    name = f"api_{db}_{tickets}_v{LOADER_VERSION}"
    if pg_url is None:
        path = RESULTS / f"{name}.db"
        store = Store(db, f"sqlite:///{path}", tickets, customers)
        ready = path.exists()
    else:
        store = Store(db, _pg_database_url(pg_url, name), tickets, customers)
        ready = _pg_database_exists(pg_url, name)
    if ready:
        engine = _engine(store.url)
        migrate_upgrade(engine)  # a cached store follows new migrations
        engine.dispose()
        return store
    log(f"building the {db} store of {tickets:,} tickets (cached for later runs)...")
    started = time.monotonic()
    if pg_url is not None:
        _pg_create_database(pg_url, name)
    else:
        RESULTS.mkdir(parents=True, exist_ok=True)
    try:
        _build(store)
    except BaseException:
        drop_copy(store)
        raise
    log(f"built in {time.monotonic() - started:.0f} s")
    return store


def run_copy(store: Store, workdir: Path) -> Store:
    """A throw-away copy of the store for one run."""
    if not is_postgres(store.url):
        source = Path(make_url(store.url).database or "")
        target = workdir / "kefu.db"
        shutil.copyfile(source, target)
        return Store(store.db, f"sqlite:///{target}", store.tickets, store.customers)
    url = make_url(normalise_url(store.url))
    name = f"{url.database}_run{os.getpid()}"  # benches running at once keep apart
    with _pg_admin(store.url) as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"'))
    copy_url = url.set(database=name).render_as_string(hide_password=False)
    return Store(store.db, copy_url, store.tickets, store.customers)


def drop_copy(store: Store) -> None:
    if not is_postgres(store.url):
        Path(make_url(store.url).database or "").unlink(missing_ok=True)
        return
    name = make_url(normalise_url(store.url)).database
    with _pg_admin(store.url) as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def tokens(settings: Settings) -> dict[str, str]:
    """Fresh API tokens of the admin and of a support agent, through the services."""
    runtime = Runtime.create(settings)
    try:
        found = {}
        for email in (ADMIN, AGENT):
            user_id = runtime.db.run_read(accounts.user_id_by_email, email)
            created = runtime.db.run_write(
                accounts.create_token, user_id, TokenCreate(name="bench")
            )
            found[email] = created.token
        return found
    finally:
        runtime.db.close()


# -- building ------------------------------------------------------------------------------
def _build(store: Store) -> None:
    engine = _engine(store.url)
    migrate_upgrade(engine)
    settings = Settings(data_dir=RESULTS, database_url=store.url)
    runtime = Runtime.create(settings)
    try:
        team_ids, agent_ids = _people(runtime)
    finally:
        runtime.db.close()
    rng = random.Random(1)
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as connection:
        indexes = _drop_pg_indexes(connection)
        _insert_chunks(connection, Customer, _customers(store.customers, now))
        _insert_chunks(connection, CustomerIdentity, _identities(store.customers, now))
    for first in range(1, store.tickets + 1, CHUNK):
        ids = range(first, min(first + CHUNK, store.tickets + 1))
        rows = [_ticket(rng, i, store, team_ids, agent_ids, now) for i in ids]
        with engine.begin() as connection:
            _write_tickets(connection, rows)
    with engine.connect() as connection:
        _finish(connection, indexes)
    engine.dispose()


def _people(runtime: Runtime) -> tuple[list[int], list[int]]:
    """Two teams (the second private), an admin and ten agents, through the services."""
    db = runtime.db
    support = db.run_write(accounts.create_team, TeamCreate(name="Support")).id
    sales = db.run_write(accounts.create_team, TeamCreate(name="Sales", private=True)).id
    db.run_write(
        accounts.create_user,
        UserCreate(email=ADMIN, name="Bench Admin", role=Role.admin, password=PASSWORD),
    )
    agent_ids = []
    for i in range(1, 11):
        team = support if i <= 7 else sales
        user = db.run_write(
            accounts.create_user,
            UserCreate(email=f"agent{i}@bench.example.com", name=f"Agent {i}", team_ids=[team]),
        )
        agent_ids.append(user.id)
    return [support, sales], agent_ids


def _customers(count: int, now: datetime) -> Iterator[dict[str, Any]]:
    for n in range(1, count + 1):
        yield {
            "id": n,
            "name": f"Customer {n}",
            "tier": "VIP" if n % 20 == 0 else "standard",
            "notes": "",
            "attributes": {},
            "first_seen_at": now - timedelta(days=DAYS),
            "last_contact_at": now,
            "created_at": now - timedelta(days=DAYS),
            "updated_at": now,
        }


def _identities(count: int, now: datetime) -> Iterator[dict[str, Any]]:
    for n in range(1, count + 1):
        yield {"customer_id": n, "kind": "email", "value": customer_email(n), "created_at": now}


def _ticket(
    rng: random.Random,
    ticket_id: int,
    store: Store,
    team_ids: list[int],
    agent_ids: list[int],
    now: datetime,
) -> dict[str, Any]:
    # Tickets are numbered in the order they were created, oldest first.
    created = now - timedelta(seconds=DAYS * 86400 * (1 - ticket_id / (store.tickets + 1)))
    status = rng.choices(STATUSES, STATUS_WEIGHTS)[0]
    agent = rng.randrange(len(agent_ids))
    assigned = status != "new" or rng.random() < 0.3
    n = rng.randrange(10**7, 10**8)
    return {
        "id": ticket_id,
        "subject": rng.choice(SUBJECTS).format(n=n),
        "body": rng.choice(BODIES).format(n=n),
        "status": status,
        "priority": rng.choices(range(4), [15, 55, 22, 8])[0],
        "channel": rng.choice(CHANNELS),
        "language": "en",
        "requester_id": rng.randrange(1, store.customers + 1),
        "assignee_id": agent_ids[agent] if assigned else None,
        "team_id": team_ids[0] if agent < 7 else team_ids[1],
        "custom_fields": {},
        "version": 1,
        "created_at": created,
        "updated_at": min(now, created + timedelta(hours=rng.random() * 48)),
        "tag": rng.choice(["refund", "invoice", "delivery", "vip"]) if rng.random() < 0.3 else None,
    }


def _write_tickets(connection: Connection, rows: list[dict[str, Any]]) -> None:
    columns = {c.name for c in Ticket.__table__.columns}
    tickets = [{k: v for k, v in r.items() if k in columns} for r in rows]
    _write(connection, Ticket, tickets)
    messages = [
        {
            "id": r["id"],
            "ticket_id": r["id"],
            "visibility": "public",
            "author_type": "customer",
            "author_customer_id": r["requester_id"],
            "channel": r["channel"],
            "body_text": r["body"],
            "body_html": f"<p>{r['body']}</p>",
            "delivery_status": "received",
            "created_at": r["created_at"],
        }
        for r in rows
    ]
    _write(connection, Message, messages)
    events = [
        {
            "ticket_id": r["id"],
            "actor_type": "system",
            "kind": "created",
            "field": "status",
            "new_value": "new",
            "created_at": r["created_at"],
        }
        for r in rows
    ]
    _write(connection, TicketEvent, events)
    tags = [{"ticket_id": r["id"], "tag": r["tag"]} for r in rows if r["tag"]]
    if tags:
        _write(connection, TicketTag, tags)
    _search_rows(connection, rows)


def _search_rows(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """The rows ``tickets.repository.index_text`` writes: the subject's, then the message's."""
    docs = [(r["id"], None, search_document(r["subject"])) for r in rows]
    docs += [(r["id"], r["id"], search_document(r["body"])) for r in rows]
    if connection.dialect.name == "sqlite":
        stmt = text("INSERT INTO ticket_fts(rowid, body, ticket_id) VALUES (:r, :b, :t)")
        params = [{"r": m if m is not None else -t, "b": d, "t": t} for t, m, d in docs]
        connection.execute(stmt, params)
        return
    # The same document as the repository's: kefu's own tokens, taken as they are.
    connection.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS search_load"
        " (ticket_id bigint, message_id bigint, body text) ON COMMIT DELETE ROWS"
    )
    _copy(connection, "search_load", ["ticket_id", "message_id", "body"], docs)
    connection.exec_driver_sql(
        "INSERT INTO ticket_search(ticket_id, message_id, document)"
        " SELECT ticket_id, message_id, array_to_tsvector(string_to_array(body, ' '))"
        " FROM search_load"
    )


def _insert_chunks(connection: Connection, model: Any, rows: Iterator[dict[str, Any]]) -> None:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= CHUNK:
            _write(connection, model, batch)
            batch = []
    if batch:
        _write(connection, model, batch)


def _write(connection: Connection, model: Any, rows: list[dict[str, Any]]) -> None:
    """executemany on SQLite; COPY on PostgreSQL, with the columns' Python-side defaults."""
    if connection.dialect.name == "sqlite":
        connection.execute(insert(model), rows)
        return
    table = table_of(model)
    given = rows[0].keys()
    columns = [c for c in table.columns if c.name in given or c.default is not None]
    defaults = {c.name: _default_of(c) for c in columns if c.name not in given}
    values = ([r.get(c.name, defaults.get(c.name)) for c in columns] for r in rows)
    _copy(connection, table.name, [c.name for c in columns], values)


def _default_of(column: Any) -> Any:
    default = column.default
    return default.arg(None) if default.is_callable else default.arg


def _copy(connection: Connection, table: str, columns: list[str], rows: Any) -> None:
    raw: Any = connection.connection.driver_connection
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row([Jsonb(v) if isinstance(v, dict | list) else v for v in row])


_BULK_TABLES = ("tickets", "messages", "ticket_events", "ticket_tags", "ticket_search")


def _drop_pg_indexes(connection: Connection) -> list[str]:
    """The secondary indexes of the bulk tables, dropped until the load is done."""
    if connection.dialect.name == "sqlite":
        return []
    found = connection.execute(
        text(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid"
            " WHERE t.relname = ANY(:tables) AND NOT i.indisprimary AND NOT i.indisunique"
        ),
        {"tables": list(_BULK_TABLES)},
    ).all()
    for name, _ in found:
        connection.exec_driver_sql(f'DROP INDEX "{name}"')
    return [definition for _, definition in found]


def _finish(connection: Connection, indexes: list[str]) -> None:
    """Indexes back, sequences past the ids written here, statistics for the planner."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    connection.exec_driver_sql("SET maintenance_work_mem = '512MB'")
    for definition in indexes:
        connection.exec_driver_sql(definition)
    for table in ("customers", "customer_identities", "tickets", "messages", "ticket_events"):
        top = f"(SELECT max(id) FROM {table})"
        connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {top})"))
    connection.commit()
    connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")


# -- engines -------------------------------------------------------------------------------
def _engine(url: str) -> Engine:
    if is_postgres(url):
        return create_engine(normalise_url(url))
    return make_engine(url, Settings(data_dir=RESULTS))


def _pg_database_url(pg_url: str, name: str) -> str:
    return make_url(normalise_url(pg_url)).set(database=name).render_as_string(hide_password=False)


@contextmanager
def _pg_admin(url: str) -> Iterator[Connection]:
    admin = create_engine(
        make_url(normalise_url(url)).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as connection:
            yield connection
    finally:
        admin.dispose()


def _pg_database_exists(pg_url: str, name: str) -> bool:
    with _pg_admin(pg_url) as connection:
        found = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        )
        return found.first() is not None


def _pg_create_database(pg_url: str, name: str) -> None:
    with _pg_admin(pg_url) as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))


def run_on_each_database(
    parser: argparse.ArgumentParser,
    options: argparse.Namespace,
    bench_database: Callable[[Store, argparse.Namespace], dict[str, Any]],
) -> None:
    """Run ``bench_database`` on each store ``--db`` asks for (PostgreSQL only when
    KEFU_BENCH_DATABASE_URL names a server) and print the figures as the JSON last line:
    the first database's at the top level, any other's under its name."""
    pg_url = os.environ.get("KEFU_BENCH_DATABASE_URL") or None
    wanted = ["sqlite", "postgresql"] if options.db == "all" else [options.db]
    if "postgresql" in wanted and pg_url is None:
        if options.db == "postgresql":
            parser.error("set KEFU_BENCH_DATABASE_URL to bench PostgreSQL")
        wanted.remove("postgresql")
    results = []
    for db in wanted:
        store = cached_store(db, options.tickets, pg_url if db == "postgresql" else None)
        results.append(bench_database(store, options))
    last = dict(results[0])
    for other in results[1:]:
        last[other["db"]] = other
    print(json.dumps(last, ensure_ascii=False))


def fresh_pg_database(pg_url: str, name: str) -> str:
    """An empty database ``name`` on the server of ``pg_url`` (dropped first if it was
    there): a benchmark starts from nothing, whatever earlier runs left behind."""
    url = make_url(normalise_url(pg_url))
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)
