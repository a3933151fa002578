"""The outbox's send of an agent's chat reply, after the hub numbered it: no write left."""

from __future__ import annotations

from typing import Any

import pytest

from kefu.accounts import service as accounts
from kefu.channels import delivery
from kefu.channels.base import OutboundMessage
from kefu.channels.webchat import hub as hubs
from kefu.channels.webchat import messages
from kefu.channels.webchat import repository as webchat_repo
from kefu.channels.webchat.adapter import ADAPTER, WebchatAdapter
from kefu.channels.webchat.hub import ChatHub, VisitorConn
from kefu.db import Ctx, add_emit_hook
from kefu.events import Event
from kefu.runtime import Runtime
from kefu.tickets import conversation
from kefu.tickets.attachments import record_upload
from kefu.tickets.models import Message
from kefu.tickets.schemas import MessageCreate
from tests.channels.webchat.test_receipt_writes import Chat


def numbered(message_id: int, conversation: str, seq: int, author: str = "agent") -> Event:
    frame = {"type": "message", "seq": seq, "id": message_id, "from": author}
    payload = {"session_id": 1, "conversation": conversation, "seq": seq, "ticket_id": 5}
    payload |= {"message_id": message_id, "author": author, "frame": frame}
    return Event("webchat.message", payload)


def outbound(message_id: int) -> OutboundMessage:
    return OutboundMessage(5, message_id, "", "text", "<p>text</p>", "subject", [], {})


async def test_a_reply_the_hub_saw_numbered_is_sent_without_a_write(
    sync_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = ChatHub(sync_runtime)
    adapter = WebchatAdapter()
    adapter.hub = hub
    writes: list[Any] = []

    async def write(fn: Any, *args: Any) -> Any:
        writes.append(fn)
        return [("c-other", 1)]

    monkeypatch.setattr(sync_runtime.db, "write", write)
    hub._on_message(numbered(41, "c-abc", 7))
    hub._on_message(numbered(41, "c-second", 3))  # a second conversation: the first is kept
    hub._on_message(numbered(42, "c-abc", 8, author="customer"))
    assert (await adapter.send(outbound(41), {})).external_id == "c-abc#7"
    assert writes == []
    assert (await adapter.send(outbound(42), {})).external_id == "c-other#1"  # not a reply
    assert len(writes) == 1


async def test_the_outbox_records_a_reply_the_hub_saw_numbered_without_planning_it(
    sync_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = sync_runtime
    chat = Chat(runtime, 1)
    reply = chat.replies[0]
    hub = ChatHub(runtime)
    monkeypatch.setattr(ADAPTER, "hub", hub)
    reads: list[Any] = []
    read = runtime.db.read

    async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
        reads.append(fn)
        return await read(fn, *args, **kwargs)

    async def write(fn: Any, *args: Any, **kwargs: Any) -> Any:
        return runtime.db.run_write(fn, *args, **kwargs)  # the test is the writer

    monkeypatch.setattr(runtime.db, "read", counted)
    monkeypatch.setattr(runtime.db, "write", write)
    hub._on_message(numbered(reply, "c-abc", 2))
    sent = await delivery.send_message(runtime, {"message_id": reply})
    assert reads == []  # neither the message, its thread nor the account read
    assert sent.result == {"external_id": "c-abc#2", "status": "sent"}
    runtime.db.run_write(sent.record)

    def stored(ctx: Ctx) -> tuple[str | None, str | None]:
        row = ctx.session.get(Message, reply)
        assert row is not None
        return row.delivery_status, row.external_id

    assert runtime.db.run_read(stored) == ("sent", "c-abc#2")
    # asked again (a retry after the record failed): planned and sent as any other reply
    again = await delivery.send_message(runtime, {"message_id": reply})
    assert reads and again.result is not None
    assert again.result["external_id"].endswith("#2")


def test_the_hub_remembers_a_bounded_number_of_replies(
    sync_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hubs, "NUMBERED_KEPT", 2)
    hub = ChatHub(sync_runtime)
    for message_id in (1, 2, 3):
        hub._on_message(numbered(message_id, "c", message_id))
    assert [hub.numbered(m) for m in (1, 2, 3)] == [None, ("c", 2), ("c", 3)]


def test_set_delivery_keeps_a_message_loaded_in_its_transaction_current(
    sync_runtime: Runtime,
) -> None:
    chat = Chat(sync_runtime, 1)
    reply = chat.replies[0]

    def job(ctx: Ctx) -> tuple[str | None, str | None]:
        loaded = ctx.session.get(Message, reply)
        assert loaded is not None
        conversation.set_delivery(ctx, reply, "sent", external_id="c#2")
        return loaded.delivery_status, loaded.external_id

    assert sync_runtime.db.run_write(job) == ("sent", "c#2")

    def stored(ctx: Ctx) -> tuple[str | None, str | None, str | None]:
        conversation.set_delivery(ctx, reply, "failed", error="gone")
        row = ctx.session.get(Message, reply)
        assert row is not None
        return row.delivery_status, row.delivery_error, row.external_id

    assert sync_runtime.db.run_write(stored) == ("failed", "gone", "c#2")


def test_an_agents_reply_is_numbered_in_the_transaction_that_writes_it(
    sync_runtime: Runtime,
) -> None:
    """With the hook the app installs: no hub job and no outbox needed for the visitor."""
    runtime = sync_runtime
    add_emit_hook(messages.number_on_write)  # as webchat's ``api.install`` does
    chat = Chat(runtime, 0)
    principal = runtime.db.run_read(accounts.principal_for_user, chat.agent_id)
    published: list[Event] = []
    runtime.bus.subscribe("webchat.message", published.append)
    data = MessageCreate(body="on it")
    reply = runtime.db.run_write(conversation.add_message, principal, chat.ticket_id, data)

    def seq(ctx: Ctx) -> int | None:
        return webchat_repo.event_seq_by_message(ctx.session, chat.session_id, reply.id)

    assert runtime.db.run_read(seq) == 2
    assert [(e.payload["message_id"], e.payload["seq"]) for e in published] == [(reply.id, 2)]
    note = MessageCreate(body="internal", visibility="note")
    runtime.db.run_write(conversation.add_message, principal, chat.ticket_id, note)
    assert len(published) == 1  # a note is not shown to the visitor


async def test_the_hub_does_not_number_again_what_its_transaction_numbered(
    sync_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = ChatHub(sync_runtime)
    writes: list[Any] = []

    async def write(fn: Any, *args: Any) -> Any:
        writes.append(args)
        return []

    monkeypatch.setattr(sync_runtime.db, "write", write)
    hub._on_message(numbered(41, "c-abc", 7))
    await hub._number_now(5, 41)
    assert writes == []
    await hub._number_now(5, 43)  # not seen numbered: the hub numbers it
    assert writes == [(5, 43, "")]


def test_a_numbered_reply_shows_its_files_in_order(sync_runtime: Runtime) -> None:
    runtime = sync_runtime
    add_emit_hook(messages.number_on_write)
    chat = Chat(runtime, 0)
    principal = runtime.db.run_read(accounts.principal_for_user, chat.agent_id)
    published: list[Event] = []
    runtime.bus.subscribe("webchat.message", published.append)
    uploads = [
        runtime.db.run_write(record_upload, principal, name, "text/plain", size, "ab" * 32)
        for name, size in (("b.txt", 3), ("a.txt", 5))
    ]
    ids = [u.id for u in uploads]
    with_files = MessageCreate(body="two files", attachment_ids=ids)
    runtime.db.run_write(conversation.add_message, principal, chat.ticket_id, with_files)
    runtime.db.run_write(
        conversation.add_message, principal, chat.ticket_id, MessageCreate(body="x")
    )
    first, second = (e.payload["frame"] for e in published)
    assert [(f["id"], f["name"], f["size"]) for f in first["files"]] == [
        (ids[0], "b.txt", 3),
        (ids[1], "a.txt", 5),
    ]
    assert (first["text"], first["author"], second["files"]) == ("two files", "Ann", [])


def test_a_conversation_just_created_empty_is_not_read_back_on_attach(
    sync_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = ChatHub(sync_runtime)
    reads: list[Any] = []
    monkeypatch.setattr(hub, "_spawn", lambda coro: (reads.append(coro), coro.close()))
    empty, posted = VisitorConn(), VisitorConn()
    hub.attach(empty, 1, "c-empty", 0, stored=0)  # the pre-chat form created it
    assert reads == [] and not empty.syncing
    event = numbered(9, "c-empty", 1, author="customer")
    event.payload["session_id"] = 1
    hub._on_message(event)
    assert empty.last_seq == 1 and empty.queue.qsize() == 1  # pushed at once, in order
    hub.attach(posted, 2, "c-posted", 0, stored=1)  # its first message: read it back
    assert len(reads) == 1 and posted.syncing
