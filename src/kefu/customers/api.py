"""JSON routes of customers and companies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from kefu.customers import duplicates
from kefu.customers import service as customers
from kefu.customers.schemas import (
    CompanyCreate,
    CompanyPage,
    CompanyRead,
    CompanyUpdate,
    CustomerCreate,
    CustomerMerge,
    CustomerPage,
    CustomerRead,
    CustomerUpdate,
    DuplicateSuggestion,
)
from kefu.kit.http import Id
from kefu.kit.validators import tag_query
from kefu.security.deps import RuntimeDep, require
from kefu.security.permissions import Action, Principal

router = APIRouter(prefix="/api/v1", tags=["customers"])
Reader = Annotated[Principal, Depends(require(Action.customer_read))]
Writer = Annotated[Principal, Depends(require(Action.customer_write))]
Merger = Annotated[Principal, Depends(require(Action.customer_merge))]
CompanyReader = Annotated[Principal, Depends(require(Action.company_read))]
CompanyWriter = Annotated[Principal, Depends(require(Action.company_write))]


@router.get("/customers")
async def list_customers(
    principal: Reader,
    runtime: RuntimeDep,
    q: Annotated[
        str | None, Query(max_length=200, description="Name, email, phone or channel id")
    ] = None,
    tag: str | None = None,
    tier: str | None = None,
    company_id: int | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CustomerPage:
    return await runtime.db.read(
        customers.list_customers,
        q=q,
        tag=tag_query(tag),
        tier=tier,
        company_id=company_id,
        cursor=cursor,
        limit=limit,
    )


@router.post("/customers", status_code=201)
async def create_customer(
    data: CustomerCreate, principal: Writer, runtime: RuntimeDep
) -> CustomerRead:
    return await runtime.db.write(customers.create_customer, data)


@router.get("/customers/{customer_id}")
async def get_customer(customer_id: Id, principal: Reader, runtime: RuntimeDep) -> CustomerRead:
    return await runtime.db.read(customers.get_customer, customer_id)


@router.patch("/customers/{customer_id}")
async def update_customer(
    customer_id: Id, data: CustomerUpdate, principal: Writer, runtime: RuntimeDep
) -> CustomerRead:
    return await runtime.db.write(customers.update_customer, customer_id, data)


@router.post("/customers/{customer_id}/merge")
async def merge_customers(
    customer_id: Id, data: CustomerMerge, principal: Merger, runtime: RuntimeDep
) -> CustomerRead:
    """Fold ``source_id`` into this customer; its identities, tickets and messages move here."""
    return await runtime.db.write(customers.merge_customers, customer_id, data.source_id)


@router.get("/customers/{customer_id}/duplicates")
async def customer_duplicates(
    customer_id: Id,
    principal: Merger,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[DuplicateSuggestion]:
    """Customers who are probably this one too (same number, mailbox, name and company,
    similar names); confirm one with ``POST /customers/{customer_id}/merge``."""
    await runtime.db.read(customers.get_customer, customer_id)
    return await runtime.db.read(duplicates.suggestions, customer_id, limit)


@router.get("/customer-duplicates")
async def all_duplicates(
    principal: Merger, runtime: RuntimeDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[DuplicateSuggestion]:
    """Likely duplicate customers across the whole directory, most certain first."""
    return await runtime.db.read(duplicates.suggestions, None, limit)


@router.get("/companies")
async def list_companies(
    principal: CompanyReader,
    runtime: RuntimeDep,
    q: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CompanyPage:
    return await runtime.db.read(customers.list_companies, q, cursor, limit)


@router.post("/companies", status_code=201)
async def create_company(
    data: CompanyCreate, principal: CompanyWriter, runtime: RuntimeDep
) -> CompanyRead:
    return await runtime.db.write(customers.create_company, data)


@router.get("/companies/{company_id}")
async def get_company(company_id: Id, principal: CompanyReader, runtime: RuntimeDep) -> CompanyRead:
    return await runtime.db.read(customers.get_company, company_id)


@router.patch("/companies/{company_id}")
async def update_company(
    company_id: Id, data: CompanyUpdate, principal: CompanyWriter, runtime: RuntimeDep
) -> CompanyRead:
    return await runtime.db.write(customers.update_company, company_id, data)


@router.delete("/companies/{company_id}", status_code=204)
async def delete_company(company_id: Id, principal: CompanyWriter, runtime: RuntimeDep) -> Response:
    await runtime.db.write(customers.delete_company, company_id)
    return Response(status_code=204)
