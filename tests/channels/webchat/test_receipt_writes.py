"""The writes behind receipts: both marks in one job, nothing written for a mark already
stored, a status that never goes backwards, the same events as one message at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import event

from kefu.accounts import service as accounts
from kefu.accounts.schemas import UserCreate
from kefu.channels import service as channels
from kefu.channels.adapters import load_adapters
from kefu.channels.delivery import secret_box
from kefu.channels.webchat import messages, sockets
from kefu.channels.webchat import service as chat
from kefu.channels.webchat.hub import VisitorConn
from kefu.channels.webchat.options import chat_options
from kefu.db import Ctx
from kefu.events import Event
from kefu.runtime import Runtime
from kefu.tickets import conversation
from kefu.tickets.models import Message
from kefu.tickets.schemas import MessageCreate
from tests.channels.webchat.conftest import make_account


class Chat:
    """A visitor's conversation with ``replies`` numbered agents' replies."""

    def __init__(self, runtime: Runtime, replies: int) -> None:
        db = runtime.db
        load_adapters()
        account = make_account(runtime)
        config = db.run_read(channels.account_config, secret_box(runtime), account)
        options = chat_options(config, "Acme", 10**6)
        ref = chat.new_session(account, None, "en")
        posted = db.run_write(messages.post_message, options, ref, "c1", "hello", [], "en")
        self.session_id, self.ticket_id = posted.session.id, posted.ticket_id
        user = db.run_write(
            accounts.create_user,
            UserCreate(email="ann@example.com", name="Ann", role="agent", password="x" * 12),
        )
        self.agent_id = user.id
        principal = db.run_read(accounts.principal_for_user, user.id)
        self.replies: list[int] = []
        for n in range(replies):
            data = MessageCreate(body=f"reply {n}")
            added = db.run_write(conversation.add_message, principal, self.ticket_id, data)
            db.run_write(messages.number_reply, self.ticket_id, added.id, "")
            self.replies.append(added.id)


def statuses(runtime: Runtime, ids: list[int]) -> list[str | None]:
    def read(ctx: Ctx) -> list[str | None]:
        return [ctx.session.get(Message, i).delivery_status for i in ids]  # type: ignore[union-attr]

    return runtime.db.run_read(read)


@pytest.fixture
def runtime(sync_runtime: Runtime) -> Runtime:
    """Without the app: no hub numbering replies on its own, writes run in the test."""
    return sync_runtime


@pytest.fixture
def writes(runtime: Runtime) -> Iterator[list[str]]:
    """The INSERT/UPDATE/DELETE statements the writer runs meanwhile."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            seen.append(statement)

    engine = runtime.db.write_engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_both_marks_in_one_job(runtime: Runtime) -> None:
    c = Chat(runtime, 3)  # numbers 2, 3, 4 (the visitor's message is 1)
    stored = runtime.db.run_write(chat.visitor_marks, c.session_id, {False: 3, True: 2})
    assert stored == {False: 3, True: 2}
    assert statuses(runtime, c.replies) == ["read", "delivered", "queued"]


def test_a_mark_already_stored_writes_nothing(runtime: Runtime, writes: list[str]) -> None:
    c = Chat(runtime, 2)
    runtime.db.run_write(chat.visitor_marks, c.session_id, {False: 3})
    writes.clear()
    stored = runtime.db.run_write(chat.visitor_marks, c.session_id, {False: 2, True: 0})
    assert stored == {False: 3, True: 0}
    assert writes == []
    assert runtime.db.run_write(chat.visitor_saw, c.session_id, 99, False) == 3  # clamped


def test_receipts_never_move_a_status_back_and_announce_each_message(runtime: Runtime) -> None:
    c = Chat(runtime, 2)
    seen: list[Event] = []
    runtime.bus.subscribe("message.delivery", seen.append)
    runtime.db.run_write(conversation.set_deliveries, c.replies[:1], "read")
    runtime.db.run_write(conversation.set_deliveries, c.replies, "delivered")
    assert statuses(runtime, c.replies) == ["read", "delivered"]
    assert [(e.payload["message_id"], e.payload["status"]) for e in seen] == [
        (c.replies[0], "read"),
        (c.replies[0], "read"),
        (c.replies[1], "delivered"),
    ]
    assert {e.payload["ticket_id"] for e in seen} == {c.ticket_id}


def test_a_message_loaded_in_the_transaction_sees_its_receipt(runtime: Runtime) -> None:
    c = Chat(runtime, 1)

    def job(ctx: Ctx) -> str | None:
        loaded = ctx.session.get(Message, c.replies[0])
        assert loaded is not None
        chat.visitor_saw(ctx, c.session_id, 2, True)
        return loaded.delivery_status

    assert runtime.db.run_write(job) == "read"
    assert statuses(runtime, c.replies) == ["read"]


async def test_a_socket_flushes_both_marks_in_one_write_and_skips_stored_ones() -> None:
    calls: list[dict[bool, int]] = []

    class FakeDb:
        async def write(self, fn: Any, session_id: int, marks: dict[bool, int]) -> Any:
            assert fn is chat.visitor_marks and session_id == 7
            calls.append(dict(marks))
            return {read: min(seq, 5) for read, seq in marks.items()}  # 5 numbers stored

    socket = sockets.VisitorSocket.__new__(sockets.VisitorSocket)
    socket.runtime = SimpleNamespace(db=FakeDb())  # type: ignore[assignment]
    socket.conn = VisitorConn(session_id=7)
    socket.marks, socket.stored, socket.marker = {}, {}, None
    socket._mark(4, False)
    timer = socket.marker
    assert timer is not None  # the first mark sets the flush's timer; the next ones wait
    socket._mark(3, True)
    socket._mark(2, False)  # lower than the received mark already reported: kept at 4
    assert socket.marker is timer
    timer.cancel()
    socket.marker = None
    await socket._flush_marks()
    assert calls == [{False: 4, True: 3}]
    await socket._flush_marks()  # nothing reported since
    socket._mark(4, False)
    socket._mark(2, True)
    await socket._flush_marks()  # nothing above what is stored
    assert len(calls) == 1
    socket._mark(9, False)
    await socket._flush_marks()
    socket._mark(5, False)  # below what was asked, not above what is stored (5)
    await socket._flush_marks()
    assert calls == [{False: 4, True: 3}, {False: 9}]
    assert socket.marker is not None
    socket.marker.cancel()


async def test_a_socket_flushes_its_marks_a_moment_after_the_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[bool, int]] = []

    class FakeDb:
        async def write(self, fn: Any, session_id: int, marks: dict[bool, int]) -> Any:
            calls.append(dict(marks))
            return dict(marks)

    monkeypatch.setattr(sockets, "MARK_EVERY_S", 0.05)
    socket = sockets.VisitorSocket.__new__(sockets.VisitorSocket)
    socket.runtime = SimpleNamespace(db=FakeDb())  # type: ignore[assignment]
    socket.conn = VisitorConn(session_id=7)
    socket.marks, socket.stored, socket.marker = {}, {}, None
    socket._mark(1, False)
    socket._mark(2, False)
    await asyncio.sleep(0.2)
    assert calls == [{False: 2}] and socket.marker is None  # no timer left running
