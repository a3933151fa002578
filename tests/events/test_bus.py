"""The event bus: patterns, delivery on the loop from any thread, failing handlers isolated."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from kefu.events import Event, EventBus


def ev(name: str, **payload: object) -> Event:
    return Event(name, dict(payload))


def test_patterns_and_unsubscribe() -> None:
    bus = EventBus()
    seen: dict[str, list[str]] = {"all": [], "tickets": [], "one": []}
    bus.subscribe("*", lambda e: seen["all"].append(e.name))
    stop = bus.subscribe("ticket.*", lambda e: seen["tickets"].append(e.name))
    bus.subscribe("message.created", lambda e: seen["one"].append(e.name))
    bus.publish([ev("ticket.created"), ev("message.created"), ev("ticketing.x")])
    stop()
    bus.publish([ev("ticket.updated")])
    assert seen == {
        "all": ["ticket.created", "message.created", "ticketing.x", "ticket.updated"],
        "tickets": ["ticket.created"],
        "one": ["message.created"],
    }


def test_a_failing_handler_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    seen: list[str] = []

    def broken(_: Event) -> None:
        raise RuntimeError("handler bug")

    bus.subscribe("*", broken)
    bus.subscribe("*", lambda e: seen.append(e.name))
    with caplog.at_level(logging.ERROR):
        bus.publish([ev("a"), ev("b")])
    assert seen == ["a", "b"]
    assert "handler bug" in caplog.text


def test_async_handlers_run_without_a_loop() -> None:
    bus = EventBus()
    seen: list[str] = []

    async def handler(e: Event) -> None:
        await asyncio.sleep(0)
        seen.append(e.name)

    bus.subscribe("*", handler)
    bus.publish([ev("x")])
    assert seen == ["x"]


async def test_events_from_other_threads_are_delivered_on_the_loop() -> None:
    bus = EventBus()
    bus.attach(asyncio.get_running_loop())
    loop_thread = threading.get_ident()
    done = asyncio.Event()
    seen: list[tuple[str, int]] = []

    async def handler(e: Event) -> None:
        seen.append((e.name, threading.get_ident()))
        if e.name == "last":
            done.set()

    bus.subscribe("*", handler)
    worker = threading.Thread(target=bus.publish, args=([ev("first"), ev("last")],))
    worker.start()
    worker.join()
    await asyncio.wait_for(done.wait(), 5)
    await bus.drain()
    assert seen == [("first", loop_thread), ("last", loop_thread)]


async def test_drain_waits_for_started_handlers() -> None:
    bus = EventBus()
    bus.attach(asyncio.get_running_loop())
    finished: list[str] = []

    async def slow(e: Event) -> None:
        await asyncio.sleep(0.05)
        finished.append(e.name)

    async def broken(_: Event) -> None:
        raise RuntimeError("async handler bug")

    bus.subscribe("*", slow)
    bus.subscribe("*", broken)
    bus.publish([ev("a"), ev("b")])
    assert finished == []
    await bus.drain()
    assert sorted(finished) == ["a", "b"]


def test_forwarders_get_only_local_events() -> None:
    bus = EventBus()
    forwarded: list[list[str]] = []
    bus.add_forwarder(lambda events: forwarded.append([e.name for e in events]))
    bus.publish([ev("mine"), Event("theirs", {}, origin="remote")])
    bus.publish([Event("only-theirs", {}, origin="remote")])
    assert forwarded == [["mine"]]


def test_event_as_dict_is_json_ready() -> None:
    event = ev("ticket.created", ticket_id=7)
    data = event.as_dict()
    assert data["name"] == "ticket.created"
    assert data["payload"] == {"ticket_id": 7}
    assert data["at"].endswith("+00:00")
