"""The widget in a real browser (Debian's chromium through Playwright), embedded in a page
of another site, as a company would embed it."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.browser.conftest import CHROMIUM, FLAGS
from tests.channels.webchat.conftest import Live
from tests.channels.webchat.test_protocol import reply
from tests.conftest import Actor

pytestmark = pytest.mark.browser


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        await launched.close()


class ShopSite:
    """The company's site: a real server on another port of loopback (another origin than
    kefu's, in the same address space, so the browser lets its page reach kefu)."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.pages.get(self.path, b"not found")
                self.send_response(200 if self.path in site.pages else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def shop() -> Iterator[ShopSite]:
    site = ShopSite()
    yield site
    site.server.shutdown()


async def shop_page(
    browser: Browser, shop: ShopSite, live: Live, account: int, **options: Any
) -> Page:
    """A page of the shop that embeds the widget."""
    lang = options.pop("lang", "en")
    shop.pages[f"/{lang}.html"] = (
        f'<!doctype html><html lang="{lang}"><head><meta name="viewport" '
        'content="width=device-width,initial-scale=1"></head><body><h1>Shop</h1>'
        f'<script src="{live.url}/widget.js" data-channel="{account}" async></script>'
        "</body></html>"
    ).encode()
    page = await browser.new_page(**options)
    page.on("console", lambda m: print("console:", m.type, m.text))  # shown when a test fails
    page.on("pageerror", lambda e: print("page error:", e))
    await page.goto(f"{shop.url}/{lang}.html")
    return page


async def latest_ticket(http: httpx.AsyncClient, agent: Actor) -> int:
    page = (await http.get("/api/v1/tickets", headers=agent.headers)).json()
    return int(page["items"][0]["id"])


async def test_a_visitor_chats_and_sees_the_agents_reply(
    browser: Browser,
    shop: ShopSite,
    live: Live,
    http: httpx.AsyncClient,
    account: int,
    agent: Actor,
) -> None:
    page = await shop_page(browser, shop, live, account)
    await page.get_by_role("button", name="Open chat").click()
    dialog = page.get_by_role("dialog", name="Acme Support")
    await expect(dialog).to_be_visible()
    await dialog.get_by_label("Your name").fill("Ada")
    await dialog.get_by_label("Email").fill("ada@example.com")
    await dialog.get_by_role("button", name="Start chat").click()
    box = dialog.get_by_label("Message")
    await box.fill("Where is my parcel?")
    await box.press("Enter")
    log = dialog.get_by_role("log")
    await expect(log.get_by_text("Where is my parcel?")).to_be_visible()
    await expect(log.get_by_text("Sent")).to_be_visible()
    ticket_id = await latest_ticket(http, agent)
    await reply(http, agent, ticket_id, "It ships today.")
    await expect(log.get_by_text("It ships today.")).to_be_visible()
    # a reload resumes the conversation: nothing lost, nothing twice; the draft is kept
    await box.fill("half-typed thought")
    await page.reload()
    dialog = page.get_by_role("dialog", name="Acme Support")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_label("Message")).to_have_value("half-typed thought")
    log = dialog.get_by_role("log")
    await expect(log.get_by_text("It ships today.")).to_have_count(1)
    await expect(log.get_by_text("Where is my parcel?")).to_have_count(1)
    await page.close()


async def test_on_a_phone_in_chinese(
    browser: Browser, shop: ShopSite, live: Live, account: int
) -> None:
    page = await shop_page(
        browser, shop, live, account, lang="zh-CN", viewport={"width": 375, "height": 667}
    )
    await page.get_by_role("button", name="打开聊天").click()
    dialog = page.get_by_role("dialog", name="Acme Support")
    box = await dialog.bounding_box()
    assert box is not None and box["width"] == 375  # the whole screen on a phone
    await dialog.get_by_role("button", name="开始聊天").click()
    await dialog.get_by_label("消息").fill("你好")
    await dialog.get_by_role("button", name="发送").click()
    await expect(dialog.get_by_role("log").get_by_text("你好")).to_be_visible()
    await expect(dialog.get_by_text("通常几分钟内回复")).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await page.close()
