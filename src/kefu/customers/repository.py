"""Every query of the customers domain."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from kefu.customers.models import Company, Customer, CustomerIdentity, CustomerTag
from kefu.db import UTCDateTime, table_of


def customer_id_by_identity(session: Session, kind: str, value: str) -> int | None:
    stmt = select(CustomerIdentity.customer_id).where(
        CustomerIdentity.kind == kind, CustomerIdentity.value == value
    )
    return session.scalar(stmt)


# Identity resolution runs for every inbound message and API ticket: its statements are
# built once on the tables and run with parameters, so SQLAlchemy reuses their compiled form.
_customers, _identities = table_of(Customer), table_of(CustomerIdentity)
_CUSTOMER_BY_IDENTITY = (
    select(_customers.c.id, _customers.c.name)
    .join(_identities, _identities.c.customer_id == _customers.c.id)
    .where(_identities.c.kind == bindparam("kind"), _identities.c.value == bindparam("value"))
)
_INSERT_CUSTOMER = insert(_customers).returning(_customers.c.id)
_INSERT_IDENTITY = insert(_identities)


# A known sender (most messages and tickets): found, its last contact stamped and its oldest
# email read (what a ticket shows for its requester) in one statement instead of three.
# Written out: SQLite's RETURNING names columns unqualified, so SQLAlchemy's rendering of the
# correlated subquery would compare the identity's own columns.
_TOUCH_BY_IDENTITY = text(
    "UPDATE customers SET last_contact_at = :when WHERE id ="
    " (SELECT customer_id FROM customer_identities WHERE kind = :kind AND value = :value)"
    " RETURNING id, name, (SELECT e.value FROM customer_identities AS e"
    " WHERE e.customer_id = customers.id AND e.kind = 'email' ORDER BY e.id LIMIT 1)"
).bindparams(bindparam("when", type_=UTCDateTime()))


def touch_by_identity(
    session: Session, kind: str, value: str, when: datetime
) -> tuple[int, str, str | None] | None:
    """(id, name, oldest email) of the customer holding this identity, whose last contact
    becomes ``when``; None when nobody holds it."""
    params = {"kind": kind, "value": value, "when": when}
    row = session.execute(_TOUCH_BY_IDENTITY, params).first()
    return None if row is None else (row[0], row[1], row[2])


def customer_by_identity(session: Session, kind: str, value: str) -> tuple[int, str] | None:
    """(id, name) of the customer holding this identity."""
    row = session.execute(_CUSTOMER_BY_IDENTITY, {"kind": kind, "value": value}).first()
    return None if row is None else (row[0], row[1])


def insert_customer(session: Session, values: dict[str, Any]) -> int:
    return int(session.execute(_INSERT_CUSTOMER, values).scalar_one())


def insert_identities(
    session: Session, customer_id: int, idents: Iterable[tuple[str, str]], now: datetime
) -> None:
    rows = [
        {"customer_id": customer_id, "kind": k, "value": v, "created_at": now} for k, v in idents
    ]
    if rows:
        session.execute(_INSERT_IDENTITY, rows)


def get_customer(session: Session, customer_id: int) -> Customer | None:
    return session.get(Customer, customer_id)


def identities_of(
    session: Session, customer_ids: Iterable[int]
) -> dict[int, list[CustomerIdentity]]:
    ids = set(customer_ids)
    result: dict[int, list[CustomerIdentity]] = {i: [] for i in ids}
    if ids:
        stmt = select(CustomerIdentity).where(CustomerIdentity.customer_id.in_(ids))
        for ident in session.scalars(stmt.order_by(CustomerIdentity.id)):
            result[ident.customer_id].append(ident)
    return result


def tags_of(session: Session, customer_ids: Iterable[int]) -> dict[int, list[str]]:
    ids = set(customer_ids)
    result: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        stmt = select(CustomerTag.customer_id, CustomerTag.tag).where(
            CustomerTag.customer_id.in_(ids)
        )
        for customer_id, tag in session.execute(stmt.order_by(CustomerTag.tag)):
            result[customer_id].append(tag)
    return result


def set_tags(session: Session, customer_id: int, tags: Iterable[str]) -> None:
    session.execute(delete(CustomerTag).where(CustomerTag.customer_id == customer_id))
    rows = [{"customer_id": customer_id, "tag": t} for t in sorted(set(tags))]
    if rows:
        session.execute(insert(CustomerTag), rows)


def companies_by_id(session: Session, company_ids: Iterable[int | None]) -> dict[int, Company]:
    ids = {i for i in company_ids if i is not None}
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(select(Company).where(Company.id.in_(ids)))}


def list_customers(
    session: Session,
    *,
    q: str | None,
    tag: str | None,
    tier: str | None,
    company_id: int | None,
    after_id: int | None,
    limit: int,
) -> Sequence[Customer]:
    stmt = select(Customer).where(Customer.merged_into_id.is_(None))
    if q:
        # autoescape: a % or _ the user typed is a character to find, not a wildcard
        needle = q.lower()
        ident_match = select(CustomerIdentity.customer_id).where(
            func.lower(CustomerIdentity.value).contains(needle, autoescape=True)
        )
        stmt = stmt.where(
            or_(
                func.lower(Customer.name).contains(needle, autoescape=True),
                Customer.id.in_(ident_match),
            )
        )
    if tag:
        stmt = stmt.where(
            Customer.id.in_(select(CustomerTag.customer_id).where(CustomerTag.tag == tag))
        )
    if tier:
        stmt = stmt.where(Customer.tier == tier)
    if company_id is not None:
        stmt = stmt.where(Customer.company_id == company_id)
    if after_id is not None:
        stmt = stmt.where(Customer.id > after_id)
    return session.scalars(stmt.order_by(Customer.id).limit(limit)).all()


def identity_owner(session: Session, kind: str, value: str) -> int | None:
    return customer_id_by_identity(session, kind, value)


def delete_identities(session: Session, customer_id: int, identity_ids: Iterable[int]) -> int:
    stmt = delete(CustomerIdentity).where(
        CustomerIdentity.customer_id == customer_id, CustomerIdentity.id.in_(list(identity_ids))
    )
    return int(getattr(session.execute(stmt), "rowcount", 0) or 0)


def move_identities(session: Session, source_id: int, target_id: int) -> None:
    session.execute(
        update(CustomerIdentity)
        .where(CustomerIdentity.customer_id == source_id)
        .values(customer_id=target_id)
    )


def add(session: Session, obj: Any) -> None:
    session.add(obj)
    session.flush()


def get_company(session: Session, company_id: int) -> Company | None:
    return session.get(Company, company_id)


def get_company_by_name(session: Session, name: str) -> Company | None:
    return session.scalars(select(Company).where(Company.name == name)).first()


def list_companies(
    session: Session, q: str | None, after_id: int | None, limit: int
) -> Sequence[Company]:
    stmt = select(Company)
    if q:
        stmt = stmt.where(func.lower(Company.name).contains(q.lower(), autoescape=True))
    if after_id is not None:
        stmt = stmt.where(Company.id > after_id)
    return session.scalars(stmt.order_by(Company.id).limit(limit)).all()


def customer_counts(session: Session, company_ids: Iterable[int]) -> dict[int, int]:
    ids = set(company_ids)
    if not ids:
        return {}
    stmt = (
        select(Customer.company_id, func.count())
        .where(Customer.company_id.in_(ids), Customer.merged_into_id.is_(None))
        .group_by(Customer.company_id)
    )
    return {cid: int(n) for cid, n in session.execute(stmt) if cid is not None}


def delete_company(session: Session, company: Company) -> None:
    session.delete(company)
    session.flush()


def duplicate_candidates(
    session: Session, kinds: Iterable[str]
) -> tuple[list[tuple[int, str, int | None]], list[tuple[int, str, str]]]:
    """For the duplicate finder: (id, name, company id) of every customer not merged away,
    and (customer id, kind, value) of their identities of these kinds."""
    active = Customer.merged_into_id.is_(None)
    people = session.execute(select(Customer.id, Customer.name, Customer.company_id).where(active))
    idents = session.execute(
        select(CustomerIdentity.customer_id, CustomerIdentity.kind, CustomerIdentity.value)
        .join(Customer, Customer.id == CustomerIdentity.customer_id)
        .where(active, CustomerIdentity.kind.in_(list(kinds)))
    )
    return [(i, n, c) for i, n, c in people], [(i, k, v) for i, k, v in idents]
