from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kefu.canned import service as canned
from kefu.config import Settings
from kefu.demo.loader import load_demo
from kefu.demo.plan import ADMIN_EMAIL, make_plan
from kefu.main import create_app
from kefu.outbox import repository as outbox_repo
from kefu.rules import repository as rules_repo
from kefu.rules import tasks as rules_tasks
from kefu.runtime import Runtime
from kefu.tickets.models import Status

TICKETS, CUSTOMERS, SEED = 60, 20, 3
_CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    settings.run_worker = False  # the tests run the rules worker by hand, when they want it
    return create_app(settings)


def _password(lines: list[str]) -> str:
    match = re.search(r"with password (\S+)", "\n".join(lines))
    assert match, lines
    return match.group(1)


async def _sign_in(client: httpx.AsyncClient, email: str, password: str) -> None:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]


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
        replies = [
            m for m in messages if (m["author_type"], m["visibility"]) == ("agent", "public")
        ]
        # the story's replies went out when written: nothing waits to be sent at first serve
        assert {m["delivery_status"] for m in replies} <= {"delivered", None}
    assert {("customer", "public"), ("agent", "public"), ("agent", "note")} <= kinds
    waiting = runtime.db.run_read(
        lambda ctx: outbox_repo.due(ctx.session, runtime.clock.now(), ["channel.send"], 10)
    )
    assert waiting == []


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
    assert len((await client.get("/api/v1/rules")).json()["items"]) == 5
    assert len((await client.get("/api/v1/routing/queues")).json()) == 4
    assert len((await client.get("/api/v1/sla-policies")).json()["items"]) == 3


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


async def _get(client: httpx.AsyncClient, url: str, **params: Any) -> Any:
    response = await client.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_tickets_get_targets_from_the_demo_sla_policies(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    lines = load_demo(runtime, tickets=TICKETS, customers=CUSTOMERS, seed=SEED)
    await _sign_in(client, ADMIN_EMAIL, _password(lines))
    [calendar] = (await _get(client, "/api/v1/calendars"))["items"]
    assert calendar["time_zone"] == "Asia/Shanghai"
    assert calendar["week"] == {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    year = runtime.clock.now().year
    assert {"date": f"{year}-10-01", "end": f"{year}-10-07", "name": "国庆节 National Day"} in [
        {k: h[k] for k in ("date", "end", "name")} for h in calendar["holidays"]
    ]
    policies = (await _get(client, "/api/v1/sla-policies"))["items"]
    assert [p["name"] for p in policies] == [
        "VIP 客户 VIP customers",
        "紧急工单 Urgent (24/7)",
        "标准 Standard",
    ]
    clocks = []
    for ticket in await _all_tickets(client):
        detail = await _get(client, f"/api/v1/tickets/{ticket['id']}")
        assert detail["sla"], detail  # the standard policy matches every ticket
        clocks += detail["sla"]
    assert {c["policy"] for c in clocks} >= {"VIP 客户 VIP customers", "标准 Standard"}
    assert {c["metric"] for c in clocks} == {"first_response", "next_response", "resolution"}
    assert {"met", "breached"} <= {c["status"] for c in clocks}
    assert any(c["business"] for c in clocks)


async def test_routing_has_queues_seats_and_waiting_work(
    client: httpx.AsyncClient, sync_runtime: Runtime
) -> None:
    plan = make_plan(sync_runtime.clock.now(), tickets=TICKETS, customers=CUSTOMERS, seed=SEED)
    unassigned = [t for t in plan.tickets if t.assignee is None and t.status is Status.new]
    # Loaded as `kefu demo` does, in a runtime without the server's routing subscriptions:
    # the loader itself puts the tickets nobody took in their queues.
    lines = load_demo(sync_runtime, tickets=TICKETS, customers=CUSTOMERS, seed=SEED)
    await _sign_in(client, ADMIN_EMAIL, _password(lines))
    queues = await _get(client, "/api/v1/routing/queues")
    assert len(queues) == 4 and all(q["servable"] and q["team_id"] for q in queues)
    assert {"after_sales", "sales"} == {skill for q in queues for skill in q["skills"]}
    seats = await _get(client, "/api/v1/agents")
    assert len(seats) == 7
    assert all(s["skills"] and s["languages"] for s in seats)
    assert {"en", "zh_CN"} <= {lang for s in seats for lang in s["languages"]}
    assert {s["state"] for s in seats} == {"offline"}  # no offers until an agent says so
    reasons = await _get(client, "/api/v1/routing/break-reasons")
    assert {"lunch", "training", "meeting"} <= {r["code"] for r in reasons}
    board = await _get(client, "/api/v1/routing/wallboard")
    assert unassigned and sum(q["waiting"] for q in board["queues"]) == len(unassigned)
    page = await client.get("/wallboard")
    assert page.status_code == 200 and "售后在线 Support chat" in page.text


async def test_rules_macros_and_canned_replies_are_ready(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    lines = load_demo(runtime, tickets=TICKETS, customers=CUSTOMERS, seed=SEED)
    await _sign_in(client, ADMIN_EMAIL, _password(lines))
    rules = (await _get(client, "/api/v1/rules"))["items"]
    assert len(rules) == 5 and all(r["enabled"] for r in rules)
    # The loaded history queued no events: the auto-replies answer new tickets only.
    assert runtime.db.run_read(lambda ctx: rules_repo.queue_counts(ctx.session)) == (0, 0)
    macros = {m["name"]: m for m in (await _get(client, "/api/v1/macros"))["items"]}
    assert len(macros) == 3
    replies = runtime.db.run_read(canned.list_replies)
    assert {r.language for r in replies} == {"zh_CN", "en"} and len(replies) == 6

    ticket = await _new_ticket(client)
    await rules_tasks.run_queued(runtime)
    after = await _get(client, f"/api/v1/tickets/{ticket['id']}")
    assert (after["team"] or {}).get("name") == "Support 售后"
    assert {"refund", "billing"} <= set(after["tags"])
    assert after["category"] == "billing" and after["priority"] == "normal"
    messages = (await _get(client, f"/api/v1/tickets/{ticket['id']}/messages"))["items"]
    assert messages[-1]["author_type"] == "system" and "已收到" in messages[-1]["body_text"]
    ask = macros["索要订单号 Ask for the order number"]["id"]
    preview = await _get(client, f"/api/v1/tickets/{ticket['id']}/macros/{ask}/preview")
    assert {"field": "status", "new": "pending"} in [
        {"field": c["field"], "new": c["new"]} for c in preview["changes"]
    ]


async def _new_ticket(client: httpx.AsyncClient) -> dict[str, Any]:
    body = {
        "subject": "申请退款",
        "body": "订单SO1234567890的耳机有杂音，请帮我办理退款。",
        "requester": {"email": "new.customer@example.cn", "name": "新客户"},
        "channel": "email",
        "language": "zh_CN",
    }
    response = await client.post("/api/v1/tickets", json=body)
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    assert ticket["team"] is None and ticket["tags"] == []
    return ticket
