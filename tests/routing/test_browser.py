"""Routing in a real browser against a running kefu: the offer card arrives on its own,
counts down and is taken with one key; the supervisor's wallboard follows live and its
state control reaches the agent's header. Screenshots land in tests/artifacts/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from kefu.routing import queues, work
from kefu.routing import service as seats
from kefu.routing.core import AgentState
from kefu.routing.schemas import QueueCreate, SeatUpdate, StateChange, WorkIn
from tests.browser.conftest import (  # the running server, its browser and helpers
    Server,
    World,
    chromium,
    contexts,
    open_signed_in,
    server,
    shoot,
)

pytestmark = pytest.mark.browser
__all__ = ["chromium", "contexts", "server"]


def test_offer_card_wallboard_and_supervisor_action_live(
    chromium: Browser, contexts: list[BrowserContext], server: Server
) -> None:
    world = World(server.runtime)
    db = server.runtime.db
    lead = world.person("supervisor", "Zhou Min")
    agent = world.person("agent", "Chen Jie")
    queue = db.run_write(queues.create_queue, QueueCreate(name="Hotline 热线", offer_timeout_s=120))
    db.run_write(seats.update_seat, agent.id, SeatUpdate(capacity={"chat": 2}, languages=["en"]))
    available = StateChange(state=AgentState.available)
    db.run_write(seats.change_state, world.principal(agent), agent.id, available)

    board = open_signed_in(contexts, chromium, server, lead)
    board.goto(f"{server.url}/wallboard")
    expect(board.locator(".queue-card h2")).to_have_text("Hotline 热线")
    desk = open_signed_in(contexts, chromium, server, agent)
    expect(desk.locator(".seat-state")).to_contain_text("Available")

    db.run_write(work.enqueue_work, WorkIn(queue_id=queue.id, kind="chat", external_ref="chat-42"))
    card = desk.locator(".offer")
    expect(card).to_contain_text("chat-42")
    first = int(card.locator(".offer-clock").inner_text())
    expect(card.locator(".offer-clock")).not_to_have_text(str(first), timeout=3000)
    shoot(desk, "routing-offer-card")
    desk.keyboard.press("y")
    expect(card).to_have_count(0)
    expect(desk.locator(".seat-state")).to_contain_text("Busy")
    expect(desk.locator(".seat-state")).to_contain_text("Chat 1/2")

    tile = board.locator(".tile", has_text="Chen Jie")
    expect(tile).to_contain_text("Busy")
    shoot(board, "routing-wallboard")
    tile.locator("select").select_option("offline")
    expect(desk.locator(".seat-state")).to_contain_text("Offline")
    expect(board.locator(".tile", has_text="Chen Jie")).to_contain_text(re.compile("Offline"))
