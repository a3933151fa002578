"""Console pages of rules, macros and webhooks, and the macro picker of the ticket page,
through signed-in browsers (cookies and CSRF as a browser sends them)."""

from __future__ import annotations

import json
import re
from typing import Any

from kefu.rules import service
from kefu.runtime import Runtime
from tests.conftest import Actor, People, create_ticket
from tests.web.conftest import SignIn

RULE: dict[str, Any] = {
    "name": "Tag refunds",
    "trigger": ["ticket.created"],
    "conditions": {"all": [{"field": "ticket.subject", "op": "contains", "value": ["refund"]}]},
    "actions": [{"type": "add_tags", "tags": ["refund"]}],
}


def _embedded(html: str, element_id: str) -> Any:
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html)
    assert match is not None, element_id
    return json.loads(match.group(1))


async def test_leads_reach_rules_and_macros_and_only_admins_webhooks(
    browser: SignIn, people: People, admin: Actor, agent: Actor
) -> None:
    lead = await browser(people.user("supervisor"))
    page = await lead.get("/admin/rules")
    assert page.status_code == 200
    assert 'href="/admin/rules"' in page.text and 'href="/admin/macros"' in page.text
    assert 'href="/admin/webhooks"' not in page.text
    assert (await lead.get("/admin/webhooks")).status_code == 403
    boss = await browser(admin)
    assert 'href="/admin/webhooks"' in (await boss.get("/admin/rules")).text
    assert (await (await browser(agent)).get("/admin/rules")).status_code == 403


async def test_the_editor_embeds_the_rule_and_a_translated_catalogue(
    browser: SignIn, people: People, runtime: Runtime
) -> None:
    lead_actor = people.user("supervisor")
    lead = await browser(lead_actor)
    created = await lead.http.post("/api/v1/rules", json=RULE, headers={"X-CSRF-Token": lead.csrf})
    assert created.status_code == 201, created.text  # the editor saves through the API
    rule_id = created.json()["id"]
    page = await lead.get(f"/admin/rules/{rule_id}")
    assert page.status_code == 200
    assert _embedded(page.text, "rules-definition")["actions"] == RULE["actions"]
    catalogue = _embedded(page.text, "rules-catalogue")
    assert "ticket.created" in [e["name"] for e in catalogue["events"]]
    assert 'src="/static/rules.js' in page.text

    await lead.post("/profile/language", {"language": "zh_CN", "next": "/inbox"}, htmx=False)
    page = await lead.get(f"/admin/rules/{rule_id}")
    assert "试运行" in page.text
    catalogue = _embedded(page.text, "rules-catalogue")
    labels = {e["name"]: e["label"] for e in catalogue["events"]}
    assert labels["routing.agent.state"] == "客服状态变化时"
    assert _embedded(page.text, "rules-i18n")["conditions"] == "条件"


async def test_switch_order_versions_and_restore_from_the_list(
    browser: SignIn, people: People, runtime: Runtime
) -> None:
    actor = people.user("supervisor")
    lead = await browser(actor)
    for name in ("first", "second"):
        await lead.http.post(
            "/api/v1/rules", json={**RULE, "name": name}, headers={"X-CSRF-Token": lead.csrf}
        )
    rules = runtime.db.run_read(service.list_rules).items
    await lead.post(f"/admin/rules/{rules[0].id}/enabled", {}, htmx=False)  # switch off
    await lead.post(f"/admin/rules/{rules[1].id}/move", {"direction": "up"}, htmx=False)
    after = runtime.db.run_read(service.list_rules).items
    assert [r.name for r in after] == ["second", "first"]
    assert after[1].enabled is False and after[1].version == 2
    versions = await lead.get(f"/admin/rules/{rules[0].id}/versions")
    assert "enabled: false" in versions.text and "enabled: true" in versions.text
    await lead.post(f"/admin/rules/{rules[0].id}/versions/1/restore", {}, htmx=False)
    assert runtime.db.run_read(service.get_rule, rules[0].id).enabled is True
    listed = await lead.get("/admin/rules")
    assert listed.text.index(">second<") < listed.text.index(">first<")


async def test_yaml_comes_out_and_goes_back_in_with_lines_on_faults(
    browser: SignIn, people: People, runtime: Runtime
) -> None:
    lead = await browser(people.user("supervisor"))
    await lead.http.post("/api/v1/rules", json=RULE, headers={"X-CSRF-Token": lead.csrf})
    exported = await lead.get("/admin/rules/export.yaml")
    assert exported.headers["content-disposition"].startswith("attachment")
    text = exported.text.replace("Tag refunds", "Tag refunds again")
    response = await lead.http.post(
        "/admin/rules/import",
        data={"csrf_token": lead.csrf},
        files={"file": ("rules.yaml", text.encode(), "text/yaml")},
    )
    assert response.status_code == 200, response.text
    names = [r.name for r in runtime.db.run_read(service.list_rules).items]
    assert names == ["Tag refunds again", "Tag refunds"]  # the file's rules come first
    broken = text.replace("op: contains", "op: sounds_like")
    response = await lead.http.post(
        "/admin/rules/import",
        data={"csrf_token": lead.csrf},
        files={"file": ("rules.yaml", broken.encode(), "text/yaml")},
    )
    assert response.status_code == 422
    line = next(n for n, text in enumerate(broken.splitlines(), 1) if "sounds_like" in text)
    assert f"line {line}: &#39;sounds_like&#39; does not apply" in response.text


async def test_an_agent_previews_and_applies_a_macro_from_the_composer(
    browser: SignIn, client: Any, people: People, admin: Actor
) -> None:
    lead = people.user("supervisor")
    macro = await client.post(
        "/api/v1/macros",
        json={
            "name": "Need order number",
            "actions": [
                {"type": "add_tags", "tags": ["waiting-order-no"]},
                {"type": "reply", "body": "Hi {{ requester.first_name }}, which order is it?"},
            ],
        },
        headers=lead.headers,
    )
    assert macro.status_code == 201, macro.text
    agent_actor = people.user("agent", name="Bo Wang")
    ticket = await create_ticket(client, admin)
    agent = await browser(agent_actor)
    page = await agent.get(f"/tickets/{ticket['id']}")
    assert f'hx-get="/tickets/{ticket["id"]}/macros"' in page.text
    picker = await agent.get(f"/tickets/{ticket['id']}/macros", htmx=True)
    assert "Need order number" in picker.text
    preview = await agent.get(f"/tickets/{ticket['id']}/macros/{macro.json()['id']}", htmx=True)
    assert "Hi Alice, which order is it?" in preview.text
    assert "waiting-order-no" in preview.text
    applied = await agent.post(f"/tickets/{ticket['id']}/macros/{macro.json()['id']}")
    assert applied.headers["hx-redirect"] == f"/tickets/{ticket['id']}"
    after = await client.get(f"/api/v1/tickets/{ticket['id']}", headers=admin.headers)
    assert after.json()["tags"] == ["waiting-order-no"]


async def test_admins_add_a_webhook_endpoint_and_see_its_log(
    browser: SignIn, admin: Actor, runtime: Runtime
) -> None:
    boss = await browser(admin)
    response = await boss.post(
        "/admin/webhooks",
        {
            "name": "CRM",
            "url": "https://crm.example.com/hooks/kefu",
            "event_types": ["ticket.created", "ticket.updated"],
            "patterns": "sla.*",
            "active": "on",
            "max_attempts": "5",
        },
    )
    assert response.status_code == 204, response.text
    location = response.headers["hx-redirect"]
    page = await boss.get(location)
    assert "whsec_" in page.text and "crm.example.com" in page.text
    await boss.post(location + "/test", {})
    log = await boss.get("/admin/webhooks/deliveries")
    assert "webhook.test" in log.text
    bad = await boss.post(
        "/admin/webhooks", {"name": "x", "url": "ftp://example.com", "max_attempts": "5"}
    )
    assert bad.status_code == 422 and "https://" in bad.text
