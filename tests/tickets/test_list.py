"""The ticket list: every filter, every sort, cursor pagination, the count, full-text search."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kefu.config import Settings
from kefu.db import Ctx
from kefu.kit.pagination import encode_cursor
from kefu.kit.time import FrozenClock
from kefu.main import create_app
from kefu.tickets import list_repository as lists
from kefu.tickets.schemas import TicketPage
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
    """The list is serialised from plain data, without building models: it must be, byte for
    byte, what its response model gives (assignee, team, tags, custom fields, Chinese, dates,
    cursor)."""
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
        assert response.content == page.model_dump_json().encode()


async def test_a_page_read_as_one_row_holds_every_column_as_its_own_row_would(
    app: FastAPI, world: World
) -> None:
    """On SQLite a page travels as one JSON row (``lists._rows``): every column must come
    back as the row-per-ticket read gives it, typed by its column (dates, booleans, JSON,
    NULLs, Chinese text), and a list page keeps its sort order."""

    def both(ctx: Ctx) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        statement = lists.summary_select(ctx.session.get_bind().dialect.name)
        statement = statement.order_by(lists._tickets.c.id)
        packed = [dict(row) for row in lists._rows(ctx.session, statement, {})]
        plain = [dict(r) for r in ctx.session.connection().execute(statement).mappings()]
        return packed, plain

    packed, plain = app.state.runtime.db.run_read(both)
    assert len(plain) == len(SPECS)
    assert packed == plain
    assert [type(v) for v in packed[0].values()] == [type(v) for v in plain[0].values()]
    assert any(row["custom_fields"] for row in packed) and any(row["tags"] for row in packed)
    page = app.state.runtime.db.run_read(
        lambda ctx: lists.list_page(ctx.session, lists.Criteria(), "-updated_at", None, 200)
    )
    assert [row["id"] for row in page] == order_of(world, "-updated_at")
