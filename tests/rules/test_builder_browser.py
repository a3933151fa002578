"""The no-code rule builder in a real browser: a supervisor builds a rule with pick-lists
only (a nested any-group, a pattern, actions), sees a fault next to its control, saves,
dry-runs it; and reads the page in Chinese. Screenshots land in tests/artifacts/."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from kefu.rules import service
from tests.browser.conftest import Server, World, open_signed_in, shoot

pytestmark = pytest.mark.browser


def _condition(page: Page, row: int, field: str, op: str, value: str | None = None) -> None:
    rows = page.locator(".cond-row")
    rows.nth(row).locator("select[aria-label='Field']").select_option(field)
    rows.nth(row).locator("select[aria-label='Operator']").select_option(op)
    if value is not None:
        rows.nth(row).locator("[aria-label='Value']").fill(value)


def test_a_supervisor_builds_saves_and_dry_runs_a_rule(
    chromium: Browser, contexts: list[BrowserContext], server: Server
) -> None:
    world = World(server.runtime)
    lead = world.person("supervisor", "Mei Chen")
    world.team("Billing", [])
    world.ticket("Refund for order 77", "Please refund me", "a@example.com", "Ann Lee")
    page = open_signed_in(contexts, chromium, server, lead)
    page.goto(f"{server.url}/admin/rules/new")
    page.fill("#rule-name", "Refunds go to billing")
    page.get_by_role("button", name="+ Condition").first.click()
    _condition(page, 0, "ticket.subject", "contains", "refund, 退款")
    page.get_by_role("button", name="+ Group").first.click()
    nested = page.locator(".cond-group .cond-group")
    nested.locator("select[aria-label='Match']").select_option("any")
    _condition(page, 1, "ticket.text", "matches", "(unclosed")
    page.get_by_role("button", name="+ Action").click()
    page.locator(".action select[aria-label='Action']").select_option("assign")
    page.locator(".action [data-loc='actions.0.team']").select_option("Billing")
    page.get_by_role("button", name="Save rule").click()

    error = page.locator("[data-loc='conditions.all.1.any.0.value'] + .field-error")
    expect(error).to_contain_text("not a valid pattern")
    shoot(page, "rules-builder-error")
    page.locator(".cond-row").nth(1).locator("[aria-label='Value']").fill(r"order \d+")
    page.get_by_role("button", name="Save rule").click()
    page.wait_for_url("**/admin/rules/*?saved=1")
    rule = server.runtime.db.run_read(service.list_rules).items[0]
    assert rule.conditions == {
        "all": [
            {"field": "ticket.subject", "op": "contains", "value": ["refund", "退款"]},
            {"any": [{"field": "ticket.text", "op": "matches", "value": r"order \d+"}]},
        ]
    }
    assert rule.actions == [{"type": "assign", "team": "Billing"}]

    page.click("#dry-run")
    expect(page.locator("#dry-results")).to_contain_text("1 of")
    expect(page.locator("#dry-results")).to_contain_text("Refund for order 77")
    shoot(page, "rules-builder")


def test_the_builder_speaks_chinese(
    chromium: Browser, contexts: list[BrowserContext], server: Server
) -> None:
    world = World(server.runtime)
    lead = world.person("supervisor", "王芳", language="zh_CN")
    page = open_signed_in(contexts, chromium, server, lead)
    page.goto(f"{server.url}/admin/rules/new")
    expect(page.locator("h2").first).to_have_text("条件")
    expect(page.locator(".cond-head select").first).to_contain_text("以下全部满足")
    page.get_by_role("button", name="+ 动作").click()
    expect(page.locator(".action select[aria-label='动作']")).to_contain_text("添加标签")
    shoot(page, "rules-builder-zh")
