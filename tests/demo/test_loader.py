from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import httpx

from kefu.demo.loader import load_demo
from kefu.demo.plan import ADMIN_EMAIL, make_plan
from kefu.runtime import Runtime

TICKETS, CUSTOMERS, SEED = 60, 20, 3
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _password(lines: list[str]) -> str:
    match = re.search(r"with password (\S+)", "\n".join(lines))
    assert match, lines
    return match.group(1)


async def _sign_in(client: httpx.AsyncClient, email: str, password: str) -> None:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text


async def _all_tickets(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/tickets", params={"limit": 200, "sort": "created_at"})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_demo_gives_a_lived_in_help_desk(client: httpx.AsyncClient, runtime: Runtime) -> None:
    lines = load_demo(runtime, tickets=TICKETS, customers=CUSTOMERS, seed=SEED)
    await _sign_in(client, ADMIN_EMAIL, _password(lines))
    tickets = await _all_tickets(client)
    assert len(tickets) == TICKETS
    assert {t["language"] for t in tickets} == {"en", "zh_CN"}
    assert any(_CJK.search(t["subject"]) for t in tickets)
    assert len({t["status"] for t in tickets}) >= 4
    assert len({t["channel"] for t in tickets}) >= 4
    assert any(t["assignee"] for t in tickets) and any(t["tags"] for t in tickets)
    oldest = min(datetime.fromisoformat(t["created_at"]) for t in tickets)
    assert oldest < runtime.clock.now() - timedelta(days=30)
    customers = await client.get("/api/v1/customers", params={"limit": 200})
    assert len(customers.json()["items"]) == CUSTOMERS
    users = await client.get("/api/v1/users")
    assert {u["role"] for u in users.json()} == {"admin", "supervisor", "agent", "field_engineer"}


async def test_conversations_have_replies_and_notes(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _sign_in(client, ADMIN_EMAIL, _password(load_demo(runtime, tickets=30, customers=10)))
    kinds: set[tuple[str, str]] = set()
    for ticket in await _all_tickets(client):
        response = await client.get(f"/api/v1/tickets/{ticket['id']}/messages")
        messages = response.json()["items"]
        assert 1 <= len(messages) <= 8
        assert messages[0]["author_type"] == "customer"
        kinds |= {(m["author_type"], m["visibility"]) for m in messages}
    assert {("customer", "public"), ("agent", "public"), ("agent", "note")} <= kinds


async def test_private_sales_team_is_hidden_from_support_agents(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    lines = load_demo(runtime, tickets=TICKETS, customers=CUSTOMERS, seed=SEED)
    await _sign_in(client, "emma.clarke@kefu.local", _password(lines))
    teams = {(t["team"] or {}).get("name") for t in await _all_tickets(client)}
    assert "Support 售后" in teams
    assert "Sales 销售" not in teams


async def test_second_run_changes_nothing_and_prints_the_login(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    first = load_demo(runtime, tickets=TICKETS, customers=CUSTOMERS, seed=SEED)
    second = load_demo(runtime, tickets=TICKETS, customers=CUSTOMERS, seed=SEED)
    assert "already there" in second[0]
    assert _password(second) == _password(first)
    await _sign_in(client, ADMIN_EMAIL, _password(second))
    count = await client.get("/api/v1/tickets/count")
    assert count.json() == {"count": TICKETS}


async def test_same_seed_gives_the_same_tickets(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    now = runtime.clock.now()
    plan = make_plan(now, tickets=TICKETS, customers=CUSTOMERS, seed=SEED)
    again = make_plan(now, tickets=TICKETS, customers=CUSTOMERS, seed=SEED)
    other = make_plan(now, tickets=TICKETS, customers=CUSTOMERS, seed=SEED + 1)
    assert [t.subject for t in plan.tickets] == [t.subject for t in again.tickets]
    assert [t.subject for t in plan.tickets] != [t.subject for t in other.tickets]
    await _sign_in(
        client,
        ADMIN_EMAIL,
        _password(load_demo(runtime, tickets=TICKETS, customers=CUSTOMERS, seed=SEED)),
    )
    stored = sorted(await _all_tickets(client), key=lambda t: t["id"])
    assert [t["subject"] for t in stored] == [t.subject for t in plan.tickets]
