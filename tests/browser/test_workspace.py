"""The workspace in a real browser: the scenarios of the agent workspace issue, plus edit
conflicts, keyboard use and the phone layout. Screenshots land in tests/artifacts/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.browser.conftest import Person, Server, World, open_signed_in, shoot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def world(server: Server) -> World:
    return World(server.runtime)


@pytest.fixture(scope="module")
def support(world: World) -> dict[str, Person | int]:
    li = world.person("agent", "Li Na")
    wang = world.person("agent", "Wang Lei")
    team = world.team("Support 售后", [li.id, wang.id])
    for i in range(6):
        world.ticket(
            f"Invoice copy needed {i}",
            "Please send the VAT invoice again.",
            f"c{i}@example.com",
            f"Customer {i}",
            team_id=team,
            assignee_id=li.id,
        )
    world.ticket(
        "订单未发货",
        "我的订单三天了还没有发货，请尽快处理。",
        "liu@example.cn",
        "刘丽",
        team_id=team,
        assignee_id=li.id,
        priority="urgent",
        tags=["vip"],
    )
    return {"li": li, "wang": wang, "team": team}


def test_agent_finds_replies_notes_and_assigns_a_teammate_who_sees_it_live(
    chromium: Browser, contexts: list[BrowserContext], server: Server, world: World, support: dict
) -> None:
    li, wang = support["li"], support["wang"]
    ticket_id = world.ticket(
        "Printer jams on tray 2",
        "The KF-200 jams every morning.",
        "zhang.ming@example.cn",
        "Zhang Ming",
        team_id=support["team"],
    )
    teammate = open_signed_in(contexts, chromium, server, wang)
    expect(teammate.locator(f'tr[data-id="{ticket_id}"]')).to_have_count(0)
    agent = open_signed_in(contexts, chromium, server, li)
    shoot(agent, "inbox")
    agent.fill("#top-search", "printer tray")
    agent.press("#top-search", "Enter")
    agent.locator(f'tr[data-id="{ticket_id}"] a.open').click()
    agent.wait_for_url(f"**/tickets/{ticket_id}")
    agent.fill("#composer-body", "Thanks, a technician comes tomorrow morning.")
    agent.locator("#composer button[type=submit]").click()
    expect(agent.locator(".msg.from-agent", has_text="a technician comes tomorrow")).to_be_visible()
    agent.locator("body").press("n")
    expect(agent.locator("#composer")).to_have_class(re.compile("note-mode"))
    agent.keyboard.type("Customer prefers calls before 10:00.")
    agent.keyboard.press("Control+Enter")
    expect(agent.locator(".msg.note", has_text="prefers calls")).to_be_visible()
    agent.select_option("#f-assignee", str(wang.id))
    agent.locator("#side button.primary").click()
    expect(agent.locator(".event", has_text="assigned it to Wang Lei")).to_be_visible()
    arrived = teammate.locator(f'tr[data-id="{ticket_id}"]')
    expect(arrived).to_be_visible(timeout=10_000)  # no reload: pushed by the live feed
    expect(arrived).to_contain_text("Printer jams on tray 2")
    shoot(teammate, "inbox-live-arrival")
    arrived.locator("a.open").click()
    expect(agent.locator("#presence")).to_contain_text("Wang Lei is viewing")
    teammate.locator("#composer-body").type("Hello Zhang Ming")
    expect(agent.locator("#presence .typing")).to_contain_text("Wang Lei is typing a reply")
    shoot(agent, "ticket")


def test_saving_over_a_teammates_change_is_refused(
    chromium: Browser, contexts: list[BrowserContext], server: Server, world: World, support: dict
) -> None:
    ticket_id = world.ticket(
        "Screen flickers", "Since the update.", "ana@example.com", "Ana", team_id=support["team"]
    )
    first = open_signed_in(contexts, chromium, server, support["li"])
    second = open_signed_in(contexts, chromium, server, support["wang"])
    for page in (first, second):
        page.goto(f"{server.url}/tickets/{ticket_id}")
    first.select_option("#f-priority", "low")  # an edit in progress
    second.select_option("#f-priority", "urgent")
    second.locator("#side button.primary").click()
    expect(second.locator(".event", has_text="set Priority to Urgent")).to_be_visible()
    expect(first.locator("#stale")).to_be_visible(timeout=10_000)
    first.locator("#side button.primary").click()
    expect(first.locator("#side-alert")).to_contain_text("someone else changed this ticket")
    first.locator("#side-alert button").click()
    expect(first.locator("#f-priority")).to_have_value("urgent")


def test_an_agent_is_denied_the_admin_console(
    chromium: Browser, contexts: list[BrowserContext], server: Server, support: dict
) -> None:
    page = open_signed_in(contexts, chromium, server, support["li"])
    expect(page.locator('.mainnav a[href="/admin"]')).to_have_count(0)
    response = page.goto(f"{server.url}/admin/fields")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("You do not have access to this.")
    shoot(page, "admin-denied")


def test_a_supervisor_edits_a_field_and_the_ticket_form_shows_the_widget(
    chromium: Browser, contexts: list[BrowserContext], server: Server, world: World, support: dict
) -> None:
    lead = world.person("supervisor", "Zhou Min")
    ticket_id = world.ticket("Which model do I have?", "Bought last year.", "k@example.com", "Kim")
    page = open_signed_in(contexts, chromium, server, lead)
    page.goto(f"{server.url}/admin/fields")
    page.fill("#fd-label", "Product model")
    page.fill("#fd-label-zh", "产品型号")
    page.fill("#fd-key", "product_model")
    page.select_option("#fd-type", "select")
    page.fill("#fd-options", "KF-100\nKF-200")
    page.locator("button.primary", has_text="Add field").click()
    expect(page.locator("table.grid")).to_contain_text("product_model")
    page.locator("a", has_text="Product model").first.click()
    page.fill("#fd-options", "KF-100\nKF-200\nKF-300 Pro = KF-300 专业版")
    page.check("input[name=required]")
    page.locator("button.primary", has_text="Save").click()
    page.wait_for_url("**/admin/fields")
    shoot(page, "admin-fields")
    page.goto(f"{server.url}/tickets/{ticket_id}")
    widget = page.locator("#f-cf-product_model")
    expect(widget).to_be_visible()
    expect(widget.locator("option")).to_have_text(["—", "KF-100", "KF-200", "KF-300 Pro"])
    expect(page.locator("#side")).to_contain_text("required to solve")
    widget.select_option("KF-300 Pro")
    page.locator("#side button.primary").click()
    expect(page.locator(".event", has_text="set Product model to KF-300 Pro")).to_be_visible()


def test_switching_to_chinese_translates_the_inbox(
    chromium: Browser, contexts: list[BrowserContext], server: Server, world: World, support: dict
) -> None:
    person = world.person("agent", "Chen Jie", teams=[support["team"]])
    page = open_signed_in(contexts, chromium, server, person)
    expect(page.locator("#list-title")).to_have_text("Mine")
    page.locator("details.account-menu summary").click()
    page.locator("button[lang=zh-CN]").click()
    expect(page.locator("#list-title")).to_have_text("我的工单")
    expect(page.locator(".mainnav")).to_contain_text("收件箱")
    expect(page.locator("#views")).to_contain_text("所有未解决")
    page.goto(f"{server.url}/inbox?view=teams")
    expect(page.locator("table.tickets thead")).to_contain_text("处理人")
    shoot(page, "inbox-zh")


def test_keyboard_moves_opens_and_explains(
    chromium: Browser, contexts: list[BrowserContext], server: Server, support: dict
) -> None:
    page = open_signed_in(contexts, chromium, server, support["li"])
    rows = page.locator("tr.row")
    expect(rows.first).to_have_class(re.compile("cursor"))
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    expect(rows.nth(1)).to_have_class(re.compile("cursor"))
    page.keyboard.press("x")
    expect(page.locator("#bulkbar")).to_be_visible()
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    wanted = rows.nth(1).get_attribute("data-id")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/tickets/{wanted}")
    page.keyboard.press("r")
    expect(page.locator("#composer-body")).to_be_focused()


def test_phone_width_shows_one_pane_at_a_time(
    chromium: Browser, contexts: list[BrowserContext], server: Server, support: dict
) -> None:
    page = open_signed_in(contexts, chromium, server, support["li"], width=390, height=844)
    assert page.evaluate("document.documentElement.scrollWidth") <= 392
    shoot(page, "phone-inbox")
    page.locator("tr.row a.open").first.click()
    page.wait_for_url("**/tickets/*")
    assert page.evaluate("document.documentElement.scrollWidth") <= 392
    shoot(page, "phone-ticket")


def test_other_main_pages_render(
    chromium: Browser, contexts: list[BrowserContext], server: Server, world: World, support: dict
) -> None:
    page = open_signed_in(contexts, chromium, server, world.admin)
    for path, name in (
        ("/customers", "customers"),
        ("/profile", "profile"),
        ("/admin/users", "admin-users"),
    ):
        page.goto(server.url + path)
        expect(page.locator("h1").first).to_be_visible()
        shoot(page, name)
    page.locator("a", has_text="刘丽").first.click() if False else page.goto(
        server.url + "/customers?q=liu"
    )
    page.locator("table.grid a").first.click()
    expect(page.locator(".counts")).to_be_visible()
    shoot(page, "customer")
    login = chromium.new_context(viewport={"width": 1200, "height": 760})
    contexts.append(login)
    signin = login.new_page()
    signin.goto(server.url + "/login")
    shoot(signin, "login")
