"""Customers and companies: identity resolution, profiles, merge of duplicates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kefu.customers import repository as repo
from kefu.customers.identities import normalise_identity
from kefu.customers.models import Company, Customer, IdentityKind
from kefu.customers.schemas import (
    CompanyCreate,
    CompanyPage,
    CompanyRead,
    CompanyRef,
    CompanyUpdate,
    CustomerCreate,
    CustomerPage,
    CustomerRead,
    CustomerUpdate,
    IdentityRead,
)
from kefu.db import Ctx
from kefu.fields import service as fields
from kefu.kit.errors import Conflict, NotFound, invalid
from kefu.kit.pagination import decode_id_cursor, encode_cursor


# -- identity resolution (hot path: every inbound message and API ticket passes here) ------
def resolve(ctx: Ctx, kind: str, value: str, name: str = "") -> int:
    """The customer with this identity, created if none has it yet. ``value`` is normalised."""
    return resolve_contact(ctx, kind, value, name).id


@dataclass(frozen=True)
class Contact:
    id: int
    name: str
    created: bool
    email: str | None  # the customer's oldest email address


def resolve_contact(ctx: Ctx, kind: str, value: str, name: str = "") -> Contact:
    """Like ``resolve``, also saying the customer's stored name, oldest email address and
    whether it is new."""
    now = ctx.now()
    found = repo.touch_by_identity(ctx.session, kind, value, now)
    if found is None and _link_same_number(ctx, kind, value):
        found = repo.touch_by_identity(ctx.session, kind, value, now)
    if found is not None:
        return Contact(found[0], found[1], created=False, email=found[2])
    name = name or _name_from(kind, value)
    customer_id = repo.insert_customer(
        ctx.session,
        {
            "name": name,
            "tier": "standard",
            "notes": "",
            "attributes": {},
            "first_seen_at": now,
            "last_contact_at": now,
            "created_at": now,
            "updated_at": now,
        },
    )
    repo.insert_identities(ctx.session, customer_id, [(kind, value)], now)
    ctx.emit("customer.created", customer_id=customer_id, via=kind)
    return Contact(
        customer_id, name, created=True, email=value if kind == IdentityKind.email else None
    )


_NUMBER_KINDS = (IdentityKind.phone, IdentityKind.whatsapp)


def _link_same_number(ctx: Ctx, kind: str, value: str) -> bool:
    """A WhatsApp id is a phone number: whoever is known by the same E.164 number under the
    other kind is the same person, and gets this identity too (True when so)."""
    if kind not in _NUMBER_KINDS:
        return False
    for other in _NUMBER_KINDS:
        found = repo.customer_by_identity(ctx.session, other, value) if other != kind else None
        if found is not None:
            repo.insert_identities(ctx.session, found[0], [(kind, value)], ctx.now())
            return True
    return False


def _name_from(kind: str, value: str) -> str:
    return value.split("@", 1)[0] if kind == IdentityKind.email else value


def require_customer(ctx: Ctx, customer_id: int) -> Customer:
    customer = repo.get_customer(ctx.session, customer_id)
    if customer is None:
        raise NotFound("Customer", customer_id)
    return customer


# -- reads -------------------------------------------------------------------------------
def customer_reads(ctx: Ctx, customers: Sequence[Customer]) -> list[CustomerRead]:
    ids = [c.id for c in customers]
    identities = repo.identities_of(ctx.session, ids)
    tags = repo.tags_of(ctx.session, ids)
    companies = repo.companies_by_id(ctx.session, [c.company_id for c in customers])
    return [
        _read(c, identities[c.id], tags[c.id], companies.get(c.company_id or 0)) for c in customers
    ]


def _read(
    c: Customer, identities: list[Any], tags: list[str], company: Company | None
) -> CustomerRead:
    def first(kind: str) -> str | None:
        return next((i.value for i in identities if i.kind == kind), None)

    return CustomerRead(
        id=c.id,
        name=c.name,
        email=first(IdentityKind.email),
        phone=first(IdentityKind.phone),
        identities=[IdentityRead(id=i.id, kind=i.kind, value=i.value) for i in identities],
        company=CompanyRef(id=company.id, name=company.name) if company else None,
        tier=c.tier,
        language=c.language,
        time_zone=c.time_zone,
        notes=c.notes,
        tags=tags,
        attributes=dict(c.attributes or {}),
        merged_into_id=c.merged_into_id,
        first_seen_at=c.first_seen_at,
        last_contact_at=c.last_contact_at,
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


def get_customer(ctx: Ctx, customer_id: int) -> CustomerRead:
    return customer_reads(ctx, [require_customer(ctx, customer_id)])[0]


def list_customers(
    ctx: Ctx,
    *,
    q: str | None = None,
    tag: str | None = None,
    tier: str | None = None,
    company_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> CustomerPage:
    after = decode_id_cursor(cursor)
    rows = repo.list_customers(
        ctx.session, q=q, tag=tag, tier=tier, company_id=company_id, after_id=after, limit=limit + 1
    )
    page = list(rows[:limit])
    nxt = encode_cursor([page[-1].id]) if len(rows) > limit else None
    return CustomerPage(items=customer_reads(ctx, page), next_cursor=nxt)


# -- writes ------------------------------------------------------------------------------
def _check_identities_free(ctx: Ctx, idents: list[tuple[str, str]], owner: int | None) -> None:
    for index, (kind, value) in enumerate(idents):
        holder = repo.identity_owner(ctx.session, kind, value)
        if holder is not None and holder != owner:
            raise Conflict(f"{kind} {value} already belongs to customer {holder} (index {index})")


def _check_company(ctx: Ctx, company_id: int | None) -> None:
    if company_id is not None and repo.get_company(ctx.session, company_id) is None:
        raise invalid(["body", "company_id"], f"no company with id {company_id}")


def create_customer(ctx: Ctx, data: CustomerCreate) -> CustomerRead:
    idents = list(dict.fromkeys((i.kind.value, i.value) for i in data.identities))
    _check_identities_free(ctx, idents, None)
    _check_company(ctx, data.company_id)
    attributes = fields.clean_values(ctx, "customer", data.attributes or {}, "attributes")
    now = ctx.now()
    customer_id = repo.insert_customer(
        ctx.session,
        {
            "name": data.name or (_name_from(*idents[0]) if idents else ""),
            "company_id": data.company_id,
            "tier": data.tier or "standard",
            "language": data.language,
            "time_zone": data.time_zone,
            "notes": data.notes or "",
            "attributes": {k: v for k, v in attributes.items() if v is not None},
            "first_seen_at": now,
            "created_at": now,
            "updated_at": now,
        },
    )
    repo.insert_identities(ctx.session, customer_id, idents, now)
    repo.set_tags(ctx.session, customer_id, data.tags or [])
    ctx.emit("customer.created", customer_id=customer_id, via="api")
    return get_customer(ctx, customer_id)


def update_customer(ctx: Ctx, customer_id: int, data: CustomerUpdate) -> CustomerRead:
    customer = require_customer(ctx, customer_id)
    if customer.merged_into_id is not None:
        raise Conflict(f"Customer {customer_id} was merged into {customer.merged_into_id}")
    changes = data.model_dump(exclude_unset=True, exclude={"add_identities", "remove_identity_ids"})
    if "company_id" in changes:
        _check_company(ctx, changes["company_id"])
        customer.company_id = changes.pop("company_id")
    if "attributes" in changes:
        cleaned = fields.clean_values(
            ctx, "customer", changes.pop("attributes") or {}, "attributes"
        )
        merged = {**(customer.attributes or {}), **cleaned}
        customer.attributes = {k: v for k, v in merged.items() if v is not None}
    if "tags" in changes:
        repo.set_tags(ctx.session, customer.id, changes.pop("tags") or [])
    for key, value in changes.items():
        if value is not None or key in ("language", "time_zone"):
            setattr(customer, key, value)
    _change_identities(ctx, customer, data)
    customer.updated_at = ctx.now()
    ctx.emit("customer.updated", customer_id=customer.id)
    return get_customer(ctx, customer.id)


def _change_identities(ctx: Ctx, customer: Customer, data: CustomerUpdate) -> None:
    if data.remove_identity_ids:
        repo.delete_identities(ctx.session, customer.id, data.remove_identity_ids)
    added = list(dict.fromkeys((i.kind.value, i.value) for i in data.add_identities))
    _check_identities_free(ctx, added, customer.id)
    fresh = [i for i in added if repo.identity_owner(ctx.session, *i) is None]
    repo.insert_identities(ctx.session, customer.id, fresh, ctx.now())


def merge_customers(ctx: Ctx, target_id: int, source_id: int) -> CustomerRead:
    """Fold ``source`` into ``target``: identities, tags, attributes, tickets and messages
    move; the source stays as a tombstone pointing at the survivor."""
    from kefu.tickets import service as tickets  # tickets also resolve customers

    if target_id == source_id:
        raise invalid(["body", "source_id"], "a customer cannot be merged into itself")
    target, source = require_customer(ctx, target_id), require_customer(ctx, source_id)
    for c in (target, source):
        if c.merged_into_id is not None:
            raise Conflict(f"Customer {c.id} was already merged into {c.merged_into_id}")
    tags = repo.tags_of(ctx.session, [target.id, source.id])
    repo.set_tags(ctx.session, target.id, tags[target.id] + tags[source.id])
    repo.move_identities(ctx.session, source.id, target.id)
    target.attributes = {**(source.attributes or {}), **(target.attributes or {})}
    target.company_id = target.company_id or source.company_id
    target.first_seen_at = min(target.first_seen_at, source.first_seen_at)
    target.last_contact_at = max(
        filter(None, [target.last_contact_at, source.last_contact_at]), default=None
    )
    moved = tickets.move_requester(ctx, source.id, target.id)
    source.merged_into_id, source.updated_at, target.updated_at = target.id, ctx.now(), ctx.now()
    ctx.emit("customer.merged", customer_id=target.id, merged_id=source.id, tickets_moved=moved)
    return get_customer(ctx, target.id)


def identity_values(ctx: Ctx, customer_id: int, kind: str) -> list[str]:
    """The customer's addresses of one kind, oldest first."""
    identities = repo.identities_of(ctx.session, [customer_id])[customer_id]
    return [i.value for i in identities if i.kind == kind]


def identity_of(kind: str, value: str) -> tuple[str, str]:
    """Normalise a raw identity for lookups; ValueError names what is wrong."""
    return kind, normalise_identity(kind, value)


# -- companies ---------------------------------------------------------------------------
def _company_read(ctx: Ctx, companies: Sequence[Company]) -> list[CompanyRead]:
    counts = repo.customer_counts(ctx.session, [c.id for c in companies])
    return [
        CompanyRead(
            id=c.id,
            name=c.name,
            domain=c.domain,
            tier=c.tier,
            notes=c.notes,
            attributes=dict(c.attributes or {}),
            customer_count=counts.get(c.id, 0),
            created_at=c.created_at,
            updated_at=c.updated_at,
        )
        for c in companies
    ]


def _require_company(ctx: Ctx, company_id: int) -> Company:
    company = repo.get_company(ctx.session, company_id)
    if company is None:
        raise NotFound("Company", company_id)
    return company


def get_company(ctx: Ctx, company_id: int) -> CompanyRead:
    return _company_read(ctx, [_require_company(ctx, company_id)])[0]


def list_companies(
    ctx: Ctx, q: str | None = None, cursor: str | None = None, limit: int = 50
) -> CompanyPage:
    after = decode_id_cursor(cursor)
    rows = repo.list_companies(ctx.session, q, after, limit + 1)
    page = list(rows[:limit])
    nxt = encode_cursor([page[-1].id]) if len(rows) > limit else None
    return CompanyPage(items=_company_read(ctx, page), next_cursor=nxt)


def create_company(ctx: Ctx, data: CompanyCreate) -> CompanyRead:
    if repo.get_company_by_name(ctx.session, data.name) is not None:
        raise Conflict(f"A company named {data.name} already exists")
    now = ctx.now()
    company = Company(**data.model_dump(), created_at=now, updated_at=now)
    repo.add(ctx.session, company)
    ctx.emit("company.created", company_id=company.id)
    return get_company(ctx, company.id)


def update_company(ctx: Ctx, company_id: int, data: CompanyUpdate) -> CompanyRead:
    company = _require_company(ctx, company_id)
    changes = data.model_dump(exclude_unset=True)
    name = changes.get("name")
    if name and name != company.name and repo.get_company_by_name(ctx.session, name) is not None:
        raise Conflict(f"A company named {name} already exists")
    for key, value in changes.items():
        if value is not None or key == "domain":
            setattr(company, key, value)
    company.updated_at = ctx.now()
    ctx.emit("company.updated", company_id=company.id)
    return get_company(ctx, company.id)


def delete_company(ctx: Ctx, company_id: int) -> None:
    repo.delete_company(ctx.session, _require_company(ctx, company_id))
    ctx.emit("company.deleted", company_id=company_id)
