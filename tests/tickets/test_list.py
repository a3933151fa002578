"""The ticket list: every filter, every sort, cursor pagination, the count, full-text search."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import String, cast, select

from kefu.accounts.models import Team, User
from kefu.config import Settings
from kefu.customers.models import Customer, CustomerIdentity
from kefu.db import Ctx
from kefu.kit.pagination import encode_cursor
from kefu.kit.time import FrozenClock
from kefu.main import create_app
from kefu.tickets import list_repository as lists
from kefu.tickets.models import RANK_PRIORITY, Ticket, TicketTag
from kefu.tickets.schemas import TicketPage, TicketSummary
from tests.conftest import Actor, People, create_ticket, define_field

API = "/api/v1/tickets"
PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> FastAPI:
    return create_app(settings, clock)


@dataclass
class World:
    lead: Actor
    ann: Actor
    ben: Actor
    north: int
    south: int
    tickets: dict[str, dict[str, Any]]
    start: datetime

    def ids(self, *names: str) -> set[int]:
        return {self.tickets[n]["id"] for n in names}


SPECS: dict[str, dict[str, Any]] = {
    "refund": {
        "subject": "Refund for order 1042",
        "body": "The parcel never arrived. Please refund me.",
        "requester": {"email": "alice@example.com", "name": "Alice"},
        "priority": "low",
        "channel": "email",
        "tags": ["vip"],
        "custom_fields": {"region": "north", "units": 2, "warranty": True, "parts": ["screen"]},
    },
    "tuikuan": {
        "subject": "退款申请",
        "body": "我的包裹没有收到，请尽快处理。",
        "requester": {"email": "wang@example.cn", "name": "王伟"},
        "priority": "high",
        "channel": "wechat",
        "tags": ["vip", "late"],
        "team": "north",
        "assignee": "ann",
        "status": "open",
        "custom_fields": {"region": "south", "units": 2.5, "parts": ["battery", "screen"]},
    },
    "screen": {
        "subject": "Cracked screen on arrival",
        "body": "The screen of my phone is cracked.",
        "requester": {"email": "alice@example.com"},
        "priority": "urgent",
        "channel": "email",
        "tags": ["late", "Dead On Arrival"],
        "team": "south",
        "assignee": "ben",
        "status": "pending",
        "custom_fields": {"region": "north", "units": 12, "warranty": False},
    },
    "invoice": {
        "subject": "Invoice address",
        "body": "Please change the address on invoice 77.",
        "requester": {"phone": "+86 138 0013 8000", "name": "Zhao"},
        "priority": "normal",
        "channel": "api",
        "team": "north",
        "status": "on_hold",
    },
    "fapiao": {
        "subject": "发票抬头",
        "body": "请把发票抬头改为上海某某公司。",
        "requester": {"phone": "+86 138 0013 8000"},
        "priority": "high",
        "channel": "wechat",
        "assignee": "ann",
        "status": "solved",
        "custom_fields": {"region": "south"},
    },
    "hello": {
        "subject": "Hello",
        "body": "Just saying hi.",
        "requester": {"email": "carol@example.com"},
        "priority": "normal",
        "channel": "web",
        "tags": ["vip"],
    },
    "delay": {
        "subject": "Delivery delayed again",
        "body": "My order is late for the second time.",
        "requester": {"email": "dave@example.com"},
        "priority": "urgent",
        "channel": "email",
        "team": "south",
        "status": "open",
    },
}


@pytest.fixture
async def world(
    client: httpx.AsyncClient, people: People, clock: FrozenClock, admin: Actor
) -> World:
    lead = people.user("supervisor")
    ann, ben = people.user("agent", name="ann"), people.user("agent", name="ben")
    north = people.team("north", members=[ann.id])
    south = people.team("south", members=[ben.id])
    await define_field(client, admin, "region", "select", options=["north", "south"])
    await define_field(client, admin, "units", "number")
    await define_field(client, admin, "warranty", "checkbox")
    await define_field(client, admin, "parts", "multi_select", options=["screen", "battery"])
    start = clock.now()
    teams, agents = {"north": north, "south": south}, {"ann": ann.id, "ben": ben.id}
    tickets: dict[str, dict[str, Any]] = {}
    for name, spec in SPECS.items():
        clock.advance(minutes=10)
        body = {k: v for k, v in spec.items() if k not in ("team", "assignee")}
        if "team" in spec:
            body["team_id"] = teams[spec["team"]]
        if "assignee" in spec:
            body["assignee_id"] = agents[spec["assignee"]]
        tickets[name] = await create_ticket(client, lead, **body)
    for name in ("refund", "invoice"):  # touched later: updated_at moves, created_at stays
        clock.advance(minutes=10)
        response = await client.patch(
            f"{API}/{tickets[name]['id']}", json={"category": "later"}, headers=lead.headers
        )
        tickets[name] = response.json()
    return World(lead, ann, ben, north, south, tickets, start)


async def listed(client: httpx.AsyncClient, actor: Actor, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(API, params={"limit": 200, **params}, headers=actor.headers)
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def found(client: httpx.AsyncClient, actor: Actor, **params: Any) -> set[int]:
    return {t["id"] for t in await listed(client, actor, **params)}


async def test_filters(client: httpx.AsyncClient, world: World) -> None:
    lead, w = world.lead, world
    every = set(w.ids(*SPECS))
    cases: list[tuple[dict[str, Any], set[int]]] = [
        ({}, every),
        ({"status": "open"}, w.ids("tuikuan", "delay")),
        ({"status": "open,pending"}, w.ids("tuikuan", "delay", "screen")),
        ({"status": ["new", "solved"]}, w.ids("refund", "hello", "fapiao")),
        ({"priority": "urgent"}, w.ids("screen", "delay")),
        ({"priority": "low,high"}, w.ids("refund", "tuikuan", "fapiao")),
        ({"assignee_id": str(w.ann.id)}, w.ids("tuikuan", "fapiao")),
        ({"assignee_id": "none"}, w.ids("refund", "invoice", "hello", "delay")),
        ({"team_id": w.north}, w.ids("tuikuan", "invoice")),
        ({"team_id": w.south, "status": "open"}, w.ids("delay")),
        ({"tag": "vip"}, w.ids("refund", "tuikuan", "hello")),
        ({"tag": "VIP"}, w.ids("refund", "tuikuan", "hello")),
        ({"tag": " Late "}, w.ids("tuikuan", "screen")),
        ({"tag": "dead on arrival"}, w.ids("screen")),
        ({"tag": "nothing"}, set()),
        ({"channel": "wechat"}, w.ids("tuikuan", "fapiao")),
        ({"requester_id": w.tickets["refund"]["requester"]["id"]}, w.ids("refund", "screen")),
        ({"requester_id": w.tickets["invoice"]["requester"]["id"]}, w.ids("invoice", "fapiao")),
        ({"custom_field": "region:north"}, w.ids("refund", "screen")),
        ({"custom_field": ["region:south", "units:2.5"]}, w.ids("tuikuan")),
        ({"custom_field": "units:2"}, w.ids("refund")),
        ({"custom_field": "units:12"}, w.ids("screen")),
        ({"custom_field": "warranty:true"}, w.ids("refund")),
        ({"custom_field": "warranty:false"}, w.ids("screen")),
        ({"custom_field": "parts:screen"}, w.ids("refund", "tuikuan")),
        ({"custom_field": "parts:battery"}, w.ids("tuikuan")),
    ]
    for params, expected in cases:
        assert await found(client, lead, **params) == expected, params


async def test_assignee_me(client: httpx.AsyncClient, world: World) -> None:
    assert await found(client, world.ann, assignee_id="me") == world.ids("tuikuan", "fapiao")
    assert await found(client, world.ben, assignee_id="me") == world.ids("screen")
    assert await found(client, world.lead, assignee_id="me") == set()


async def test_time_ranges(client: httpx.AsyncClient, world: World) -> None:
    w = world

    def at(minutes: int) -> str:
        return (w.start + timedelta(minutes=minutes)).isoformat()

    # Tickets were created 10, 20, ... 70 minutes after start; refund and invoice were
    # changed at 80 and 90.
    cases: list[tuple[dict[str, Any], set[int]]] = [
        ({"created_after": at(30)}, w.ids("screen", "invoice", "fapiao", "hello", "delay")),
        ({"created_before": at(30)}, w.ids("refund", "tuikuan")),
        ({"created_after": at(20), "created_before": at(40)}, w.ids("tuikuan", "screen")),
        ({"updated_after": at(75)}, w.ids("refund", "invoice")),
        (
            {"updated_before": at(75), "created_after": at(15)},
            w.ids("tuikuan", "screen", "fapiao", "hello", "delay"),
        ),
        (
            {"created_after": "2026-01-05T17:30:00+08:00"},
            w.ids("screen", "invoice", "fapiao", "hello", "delay"),
        ),
    ]
    for params, expected in cases:
        assert await found(client, w.lead, **params) == expected, params


FULL_TEXT: list[tuple[str, set[str]]] = [
    ("refund", {"refund"}),
    ("REF", {"refund"}),
    ("parcel arrived", {"refund"}),
    ("refund parcel", {"refund"}),
    ("screen", {"screen"}),
    ("order", {"refund", "delay"}),
    ("invoice 77", {"invoice"}),
    ("退款", {"tuikuan"}),
    ("包裹", {"tuikuan"}),
    ("收到", {"tuikuan"}),
    ("退款申请", {"tuikuan"}),
    ("发票", {"fapiao"}),
    ("抬头", {"fapiao"}),
    ("上海", {"fapiao"}),
    ("票", {"fapiao"}),
    ("退款 包裹", {"tuikuan"}),
    ("hello saying", {"hello"}),
    ("申请退款", set()),
    ("nothing-like-this", set()),
    ("   ", {"refund", "tuikuan", "screen", "invoice", "fapiao", "hello", "delay"}),
]


async def test_full_text(client: httpx.AsyncClient, world: World) -> None:
    for q, names in FULL_TEXT:
        assert await found(client, world.lead, q=q) == world.ids(*names), q


async def test_full_text_sees_later_messages(client: httpx.AsyncClient, world: World) -> None:
    hello = world.tickets["hello"]["id"]
    await client.post(
        f"{API}/{hello}/messages", json={"body": "您好，订单号是 ZX9"}, headers=world.lead.headers
    )
    assert await found(client, world.lead, q="订单") == {hello}
    assert await found(client, world.lead, q="zx9") == {hello}
    assert await found(client, world.lead, q="hello 订单") == {hello}


def forged_cursor(raw_json: str) -> str:
    return base64.urlsafe_b64encode(raw_json.encode()).decode()


def order_of(world: World, sort: str) -> list[int]:
    key = sort.lstrip("-")
    rows = [world.tickets[n] for n in SPECS]

    def value(t: dict[str, Any]) -> Any:
        return PRIORITY_RANK[t["priority"]] if key == "priority" else t[key]

    ordered = sorted(rows, key=lambda t: (value(t), t["id"]), reverse=sort.startswith("-"))
    return [t["id"] for t in ordered]


SORTS = [
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "priority",
    "-priority",
    "id",
    "-id",
]


@pytest.mark.parametrize("sort", SORTS)
async def test_sort_and_walk_every_page(client: httpx.AsyncClient, world: World, sort: str) -> None:
    expected = order_of(world, sort)
    assert [t["id"] for t in await listed(client, world.lead, sort=sort)] == expected
    seen: list[int] = []
    cursor: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"sort": sort, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(API, params=params, headers=world.lead.headers)).json()
        assert len(page["items"]) <= 2
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


async def test_pages_of_a_filtered_list(client: httpx.AsyncClient, world: World) -> None:
    params = {"status": "open,pending,new", "sort": "-priority", "limit": 1}
    seen: list[int] = []
    page = (await client.get(API, params=params, headers=world.lead.headers)).json()
    while True:
        seen += [t["id"] for t in page["items"]]
        if page["next_cursor"] is None:
            break
        page = (
            await client.get(
                API, params={**params, "cursor": page["next_cursor"]}, headers=world.lead.headers
            )
        ).json()
    assert seen == [
        i
        for i in order_of(world, "-priority")
        if i in world.ids("tuikuan", "screen", "delay", "refund", "hello")
    ]


async def test_the_last_full_page_has_no_cursor(client: httpx.AsyncClient, world: World) -> None:
    page = (await client.get(API, params={"limit": 7}, headers=world.lead.headers)).json()
    assert len(page["items"]) == 7
    assert page["next_cursor"] is None


BAD_PARAMETERS: list[tuple[dict[str, Any], list[Any]]] = [
    ({"cursor": "not a cursor"}, ["query", "cursor"]),
    ({"cursor": encode_cursor([1, 2, 3])}, ["query", "cursor"]),
    ({"cursor": encode_cursor(["yesterday", 3])}, ["query", "cursor"]),
    (
        {"cursor": encode_cursor(["2026-01-05T09:00:00+00:00", 3]), "sort": "priority"},
        ["query", "cursor"],
    ),
    ({"cursor": encode_cursor([{"a": 1}, 3]), "sort": "id"}, ["query", "cursor"]),
    (
        {"cursor": forged_cursor("[1, 1000000000000000000000000000000]"), "sort": "priority"},
        ["query", "cursor"],
    ),
    ({"sort": "subject"}, ["query", "sort"]),
    ({"limit": 0}, ["query", "limit"]),
    ({"limit": 201}, ["query", "limit"]),
    ({"limit": "many"}, ["query", "limit"]),
    ({"team_id": "north"}, ["query", "team_id"]),
    ({"requester_id": "1.5"}, ["query", "requester_id"]),
    ({"updated_before": "2026-13-01"}, ["query", "updated_before"]),
    ({"status": "asleep"}, ["query", "status"]),
    ({"priority": "meh"}, ["query", "priority"]),
    ({"assignee_id": "someone"}, ["query", "assignee_id"]),
    ({"custom_field": "region"}, ["query", "custom_field"]),
    ({"custom_field": "colour:red"}, ["query", "custom_field"]),
    ({"custom_field": "units:many"}, ["query", "custom_field"]),
    ({"created_after": "last week"}, ["query", "created_after"]),
    ({"q": "x" * 201}, ["query", "q"]),
    ({"tag": "no<tag>"}, ["query", "tag"]),
]


async def test_bad_list_parameters_are_422(client: httpx.AsyncClient, world: World) -> None:
    for params, loc in BAD_PARAMETERS:
        response = await client.get(API, params=params, headers=world.lead.headers)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert loc in [e["loc"] for e in response.json()["errors"]], params


async def test_the_list_documents_its_query_parameters(client: httpx.AsyncClient) -> None:
    """The list and the count read their query strings in one validation
    (``kit.query``); OpenAPI still lists each parameter with its schema."""
    paths = (await client.get("/openapi.json")).json()["paths"]
    listed = {p["name"]: p for p in paths[API]["get"]["parameters"]}
    assert {"status", "priority", "assignee_id", "custom_field", "q"} <= set(listed)
    assert {"created_after", "sort", "cursor", "limit"} <= set(listed)
    assert all(p["in"] == "query" and not p["required"] for p in listed.values())
    assert listed["limit"]["schema"]["maximum"] == 200
    assert "me" in listed["assignee_id"]["description"]
    counted = {p["name"] for p in paths[f"{API}/count"]["get"]["parameters"]}
    assert "status" in counted and "limit" not in counted


async def test_repeated_and_unknown_list_parameters(
    client: httpx.AsyncClient, world: World
) -> None:
    """A list parameter takes every value given, another the last; unknown names are
    ignored, as FastAPI's own parameters did."""
    lead = world.lead
    repeated = {"status": ["open", "pending"], "limit": ["1", "200"], "colour": "red"}
    assert await found(client, lead, **repeated) == world.ids("tuikuan", "delay", "screen")


async def test_limit_bounds(client: httpx.AsyncClient, world: World) -> None:
    one = await client.get(API, params={"limit": 1}, headers=world.lead.headers)
    assert len(one.json()["items"]) == 1
    assert one.json()["next_cursor"] is not None
    most = await client.get(API, params={"limit": 200}, headers=world.lead.headers)
    assert len(most.json()["items"]) == len(SPECS)
    default = await client.get(API, headers=world.lead.headers)
    assert [t["id"] for t in default.json()["items"]] == order_of(world, "-created_at")


async def test_count(client: httpx.AsyncClient, world: World) -> None:
    async def count(**params: Any) -> int:
        response = await client.get(f"{API}/count", params=params, headers=world.lead.headers)
        assert response.status_code == 200, response.text
        value: int = response.json()["count"]
        return value

    assert await count() == len(SPECS)
    assert await count(status="open") == 2
    assert await count(tag="vip", priority="low") == 1
    assert await count(q="退款") == 1
    assert await count(custom_field="parts:screen") == 2
    assert (
        await client.get(f"{API}/count", params={"status": "x"}, headers=world.lead.headers)
    ).status_code == 422


async def test_the_list_is_the_json_of_its_model(client: httpx.AsyncClient, world: World) -> None:
    """The list's JSON is written by the database, without building models: it must be the
    JSON its response model gives, key order included (assignee, team, tags, custom fields,
    Chinese, dates, cursor); only whitespace may differ (PostgreSQL's json_build_object
    writes some), so the response is compared once written compactly."""
    cases: list[dict[str, Any]] = [
        {"limit": 200},
        {"limit": 2, "sort": "-updated_at"},
        {"status": "open,new"},
    ]
    for params in cases:
        response = await client.get(API, params=params, headers=world.ann.headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        page = TicketPage.model_validate_json(response.content)
        assert page.items, params
        assert orjson.dumps(orjson.loads(response.content)) == page.model_dump_json().encode()


def summary_from_orm(ctx: Ctx, ticket_id: int) -> dict[str, Any]:
    """A ticket's summary as its ORM objects say, in the API's JSON form."""
    session = ctx.session
    ticket = session.get_one(Ticket, ticket_id)
    email = session.scalars(
        select(CustomerIdentity.value)
        .where(
            CustomerIdentity.customer_id == ticket.requester_id, CustomerIdentity.kind == "email"
        )
        .order_by(CustomerIdentity.id)
    ).first()
    assignee = session.get(User, ticket.assignee_id) if ticket.assignee_id else None
    team = session.get(Team, ticket.team_id) if ticket.team_id else None
    tags = session.scalars(select(TicketTag.tag).where(TicketTag.ticket_id == ticket_id))
    summary = TicketSummary(
        **{c: getattr(ticket, c) for c in ("id", "subject", "status", "type", "category")},
        **{c: getattr(ticket, c) for c in ("channel", "language", "version", "merged_into_id")},
        **{c: getattr(ticket, c) for c in TIMES},
        priority=RANK_PRIORITY[ticket.priority],
        requester={
            "id": ticket.requester_id,
            "name": session.get_one(Customer, ticket.requester_id).name,
            "email": email,
        },
        assignee={"id": assignee.id, "name": assignee.name} if assignee else None,
        team={"id": team.id, "name": team.name} if team else None,
        tags=sorted(tags),
        custom_fields=ticket.custom_fields or {},
    )
    return summary.model_dump(mode="json")


TIMES = ("created_at", "updated_at", "first_responded_at", "solved_at", "closed_at")


async def test_the_summary_the_database_writes_is_the_one_the_orm_objects_give(
    app: FastAPI, world: World
) -> None:
    """A list page's items are JSON written by the database (``lists.summary_select``):
    each must say what the ORM's objects say, for every field, with times in and without
    microseconds, text that JSON must escape, a requester without email, custom fields
    stored as JSON null, and with or without tags, team and assignee."""
    w = world
    odd_subject = 'He said "hi" \\ back\t\n\x01 😀 </script>'
    with_micros = datetime(2026, 3, 1, 8, 30, 15, 123400, tzinfo=UTC)

    def twist(ctx: Ctx) -> None:
        session = ctx.session
        refund = session.get_one(Ticket, w.tickets["refund"]["id"])
        refund.subject, refund.first_responded_at = odd_subject, with_micros
        refund.closed_at = with_micros.replace(microsecond=0)
        session.get_one(Ticket, w.tickets["hello"]["id"]).custom_fields = None  # JSON null

    app.state.runtime.db.run_write(twist)
    stored = select(cast(Ticket.custom_fields, String)).where(Ticket.id == w.tickets["hello"]["id"])
    assert app.state.runtime.db.run_read(lambda ctx: ctx.session.scalar(stored)) == "null"

    def both(ctx: Ctx) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        page = lists.list_page(ctx.session, lists.Criteria(), "id", None, 200)
        items = [orjson.loads(item) for item in page.items]
        return items, [summary_from_orm(ctx, item["id"]) for item in items]

    written, from_orm = app.state.runtime.db.run_read(both)
    assert len(written) == len(SPECS)
    for item, expected in zip(written, from_orm, strict=True):
        assert item == expected
    refund = next(item for item in written if item["id"] == w.tickets["refund"]["id"])
    assert refund["subject"] == odd_subject
    assert refund["first_responded_at"] == "2026-03-01T08:30:15.123400Z"
    assert refund["closed_at"] == "2026-03-01T08:30:15Z"
    assert any(item["requester"]["email"] is None for item in written)
    assert {item["custom_fields"] == {} for item in written} == {True, False}
    assert {bool(item["tags"]) for item in written} == {True, False}
    page = app.state.runtime.db.run_read(
        lambda ctx: lists.list_page(ctx.session, lists.Criteria(), "-updated_at", None, 200)
    )
    assert [ticket_id for _, ticket_id in page.keys] == order_of(world, "-updated_at")
    assert [orjson.loads(item)["id"] for item in page.items] == order_of(world, "-updated_at")
