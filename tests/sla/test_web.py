"""SLA time left in the inbox and on the ticket page: green, amber, red, with words."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from kefu.kit.time import FrozenClock
from tests.conftest import Actor, People
from tests.sla.conftest import Sla
from tests.web.conftest import Browser, sign_in


async def _browser(app: FastAPI, actor: Actor) -> Browser:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kefu.test")
    return await sign_in(http, actor)


async def test_inbox_and_ticket_page_show_the_clock(
    sla: Sla, app: FastAPI, agent: Actor, clock: FrozenClock
) -> None:
    await sla.policy(targets={"first_response": "1h", "resolution": "8h"}, warning="10m")
    ticket = await sla.ticket(agent, assignee_id=agent.id)
    browser = await _browser(app, agent)
    try:
        inbox = await browser.get("/inbox")
        assert 'class="sla sla-ok"' in inbox.text
        assert "60m left" in inbox.text  # under 1.5 h, minutes
        assert "sla.js" in inbox.text

        clock.advance(minutes=55)
        await sla.sweep()
        inbox = await browser.get("/inbox")
        assert 'class="sla sla-warning"' in inbox.text
        assert "5m left" in inbox.text

        clock.advance(minutes=10)
        await sla.sweep()
        inbox = await browser.get("/inbox")
        assert 'class="sla sla-breached"' in inbox.text
        assert "5m overdue" in inbox.text

        page = await browser.get(f"/tickets/{ticket['id']}")
        assert page.status_code == 200
        assert "First response" in page.text
        assert "Resolution" in page.text
        assert "target 8h" in page.text
    finally:
        await browser.http.aclose()


async def test_paused_and_met_clocks_read_in_chinese(
    sla: Sla, app: FastAPI, people: People, clock: FrozenClock
) -> None:
    agent = people.user("agent")
    admin = people.user("admin")
    changed = await sla.client.patch(
        f"/api/v1/users/{agent.id}", json={"language": "zh_CN"}, headers=admin.headers
    )
    assert changed.status_code == 200, changed.text
    await sla.policy(targets={"first_response": "1h", "resolution": "8h"})
    ticket = await sla.ticket(agent)
    clock.advance(minutes=20)
    await sla.message(agent, ticket["id"], body="请提供订单号", status="pending")
    browser = await _browser(app, agent)
    try:
        page = await browser.get(f"/tickets/{ticket['id']}")
        assert "首次响应" in page.text
        assert "已达成，提前 40分钟" in page.text
        assert "已暂停，剩余 8小时" in page.text  # 7h40m, rounded
    finally:
        await browser.http.aclose()
