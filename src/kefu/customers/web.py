"""HTML routes of customers and companies: lists with search, the customer 360 page and
panel, editing a profile, merging two customers after a preview."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from kefu.customers import service as customers
from kefu.customers.schemas import (
    CompanyPage,
    CompanyRead,
    CustomerPage,
    CustomerRead,
    CustomerUpdate,
)
from kefu.db import Ctx
from kefu.fields import service as fields
from kefu.fields.schemas import FieldDefinitionRead
from kefu.security.deps import RuntimeDep
from kefu.security.permissions import Action, Principal
from kefu.tickets import service as tickets
from kefu.tickets.repository import TicketFilter
from kefu.tickets.schemas import TicketSummary
from kefu.web import forms, slots
from kefu.web.auth import allowed
from kefu.web.render import render
from kefu.web.widgets import field_values

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(allowed(Action.customer_read))]
Writer = Annotated[Principal, Depends(allowed(Action.customer_write))]
Merger = Annotated[Principal, Depends(allowed(Action.customer_merge))]
CompanyReader = Annotated[Principal, Depends(allowed(Action.company_read))]
OPEN = ["new", "open", "pending", "on_hold"]
TICKETS_PAGE = 25


# -- the customer 360 panel (also shown beside every ticket) -----------------------------
@dataclass
class CustomerPanel:
    customer: CustomerRead
    company: CompanyRead | None
    recent: list[TicketSummary]
    open_count: int
    total_count: int
    definitions: list[FieldDefinitionRead]
    slot_data: dict[str, dict[int, Any]] = field(default_factory=dict)


def panel_data(ctx: Ctx, me: Principal, customer_id: int, recent: int = 6) -> CustomerPanel:
    customer = customers.get_customer(ctx, customer_id)
    company = customers.get_company(ctx, customer.company.id) if customer.company else None
    mine = TicketFilter(requester_id=customer_id)
    page = tickets.list_tickets(ctx, me, mine, sort="-created_at", limit=recent)
    open_filter = TicketFilter(requester_id=customer_id, status=OPEN)
    return CustomerPanel(
        customer=customer,
        company=company,
        recent=page.items,
        open_count=tickets.count_tickets(ctx, me, open_filter),
        total_count=tickets.count_tickets(ctx, me, mine),
        definitions=[d for d in fields.list_definitions(ctx, "customer") if d.active],
        slot_data=slots.load("customer_panel", ctx, me, [customer_id]),
    )


@dataclass
class CustomerPageData:
    panel: CustomerPanel
    tickets: list[TicketSummary]
    next_cursor: str | None
    companies: list[CompanyRead]


def page_data(ctx: Ctx, me: Principal, customer_id: int, cursor: str | None) -> CustomerPageData:
    panel = panel_data(ctx, me, customer_id)
    flt = TicketFilter(requester_id=customer_id)
    page = tickets.list_tickets(ctx, me, flt, sort="-created_at", cursor=cursor, limit=TICKETS_PAGE)
    companies = customers.list_companies(ctx, None, None, 200).items
    return CustomerPageData(panel, page.items, page.next_cursor, companies)


# -- routes ------------------------------------------------------------------------------
@router.get("/customers")
async def customer_list(
    request: Request, me: Reader, runtime: RuntimeDep, q: str = "", cursor: str | None = None
) -> HTMLResponse:
    page: CustomerPage = await runtime.db.read(
        customers.list_customers, q=q.strip()[:200] or None, cursor=cursor, limit=50
    )
    context = {"me": me, "page": page, "q": q, "section": "customers"}
    return render(request, "customers/list.html", context, partial="customers/_table.html")


@router.get("/customers/{customer_id}")
async def customer_page(
    request: Request, me: Reader, runtime: RuntimeDep, customer_id: int, cursor: str | None = None
) -> HTMLResponse:
    data = await runtime.db.read(page_data, me, customer_id, cursor)
    context = {"me": me, "data": data, "panel": data.panel, "section": "customers"}
    if cursor and forms.is_htmx(request):
        return render(request, "customers/_ticket_rows.html", context)
    return render(request, "customers/customer.html", context)


@router.get("/customers/{customer_id}/panel")
async def customer_panel(
    request: Request, me: Reader, runtime: RuntimeDep, customer_id: int
) -> HTMLResponse:
    panel = await runtime.db.read(panel_data, me, customer_id)
    return render(request, "customers/_panel.html", {"me": me, "panel": panel})


@router.post("/customers/{customer_id}")
async def update_customer(
    request: Request, me: Writer, runtime: RuntimeDep, customer_id: int
) -> Response:
    form = await request.form()
    definitions = await runtime.db.read(fields.list_definitions, "customer")
    current = await runtime.db.read(customers.get_customer, customer_id)
    data = {
        "name": forms.text(form, "name") or current.name,
        "tier": forms.text(form, "tier") or "standard",
        "company_id": forms.optional_int(form, "company_id"),
        "language": forms.text(form, "language"),
        "time_zone": forms.text(form, "time_zone"),
        "notes": forms.text(form, "notes") or "",
        "tags": forms.split_list(forms.text(form, "tags")),
        "attributes": field_values(form, definitions, current.attributes, "attr"),
    }
    await runtime.db.write(
        customers.update_customer, customer_id, forms.parse(CustomerUpdate, data)
    )
    return forms.redirect(f"/customers/{customer_id}", "saved", htmx=forms.is_htmx(request))


@dataclass
class MergePreview:
    target: CustomerPanel
    source: CustomerPanel | None
    candidates: list[CustomerRead]


def merge_preview(
    ctx: Ctx, me: Principal, target_id: int, source_id: int | None, q: str | None
) -> MergePreview:
    target = panel_data(ctx, me, target_id, recent=3)
    source = panel_data(ctx, me, source_id, recent=3) if source_id else None
    candidates: list[CustomerRead] = []
    if q and source is None:
        found = customers.list_customers(ctx, q=q, limit=20).items
        candidates = [c for c in found if c.id != target_id]
    return MergePreview(target, source, candidates)


@router.get("/customers/{customer_id}/merge")
async def merge_page(
    request: Request,
    me: Merger,
    runtime: RuntimeDep,
    customer_id: int,
    other: int | None = None,
    q: str = "",
) -> HTMLResponse:
    """Pick the duplicate, see both side by side, then merge it into this customer."""
    preview = await runtime.db.read(merge_preview, me, customer_id, other, q.strip() or None)
    context = {"me": me, "preview": preview, "q": q, "section": "customers"}
    return render(request, "customers/merge.html", context)


@router.post("/customers/{customer_id}/merge")
async def merge(request: Request, me: Merger, runtime: RuntimeDep, customer_id: int) -> Response:
    form = await request.form()
    source_id = forms.optional_int(form, "source_id")
    if source_id is None:
        return forms.redirect(f"/customers/{customer_id}/merge")
    await runtime.db.write(customers.merge_customers, customer_id, source_id)
    return forms.redirect(f"/customers/{customer_id}", "merged", htmx=forms.is_htmx(request))


@router.get("/companies")
async def company_list(
    request: Request, me: CompanyReader, runtime: RuntimeDep, q: str = "", cursor: str | None = None
) -> HTMLResponse:
    page: CompanyPage = await runtime.db.read(
        customers.list_companies, q.strip()[:200] or None, cursor, 50
    )
    context = {"me": me, "page": page, "q": q, "section": "companies"}
    return render(
        request, "customers/companies.html", context, partial="customers/_companies_table.html"
    )


@router.get("/companies/{company_id}")
async def company_page(
    request: Request, me: CompanyReader, runtime: RuntimeDep, company_id: int
) -> HTMLResponse:
    company = await runtime.db.read(customers.get_company, company_id)
    people = await runtime.db.read(customers.list_customers, company_id=company_id, limit=200)
    context = {"me": me, "company": company, "people": people, "section": "companies"}
    return render(request, "customers/company.html", context)
