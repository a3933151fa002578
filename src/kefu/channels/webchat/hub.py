"""The sockets of one kefu process, fed by the event bus.

Every numbered message is announced on the bus (``webchat.message``, after commit; with
``KEFU_REDIS_URL`` the fan-out relays it from the other processes), and the hub pushes it
to this process's sockets of that conversation and to the agents' sockets that follow its
ticket. A visitor's socket gets its conversation strictly in order: a number that arrives
ahead of a missing one is held while the gap is read from the database, so a dropped
event or a race between processes never loses or repeats a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from kefu.accounts import service as accounts
from kefu.channels.delivery import secret_box
from kefu.channels.service import account_config, list_accounts
from kefu.channels.webchat import messages, service
from kefu.channels.webchat.options import ChatOptions, chat_options
from kefu.channels.webchat.service import CHANNEL
from kefu.events import Event
from kefu.kit.cache import TTLCache
from kefu.kit.errors import NotFound
from kefu.security.permissions import Principal, can_see_ticket

if TYPE_CHECKING:
    from kefu.runtime import Runtime

log = logging.getLogger(__name__)
QUEUE_LIMIT = 1000
AGENT_ACTIVE_S = 300.0  # an agent active this recently makes the chat "online"
CATCH_UP_PAGE = 200
NUMBERED_KEPT = 10_000  # replies remembered as numbered, for the outbox's send that follows


@dataclass(eq=False)
class Outlet:
    """One socket's outgoing queue; a reader that falls far behind is cut off (it
    reconnects and resumes from its last number)."""

    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))

    def push(self, text: str | None) -> None:
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.queue = asyncio.Queue(1)
            self.queue.put_nowait(None)

    def close(self) -> None:
        self.push(None)


@dataclass(eq=False)
class VisitorConn(Outlet):
    session_id: int = 0
    public_id: str = ""
    ticket_id: int | None = None
    last_seq: int = 0  # every message up to here was sent on this socket
    syncing: bool = False
    held: dict[int, str] = field(default_factory=dict)


@dataclass(eq=False)
class AgentConn(Outlet):
    principal: Principal | None = None
    scope: str = "teams"  # teams: my teams' chats; all: every chat I may see; watched
    watched: set[int] = field(default_factory=set)
    following: set[int] = field(default_factory=set)  # tickets whose messages it was sent


class ChatHub:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.visitors: dict[int, set[VisitorConn]] = {}
        self.agents: set[AgentConn] = set()
        self.agent_active_at = 0.0
        self._options: TTLCache[str, ChatOptions] = TTLCache(30.0)
        self._info: TTLCache[int, service.ChatInfo] = TTLCache(60.0)
        self._private_teams: set[int] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # agents' replies seen numbered (committed): message id -> (conversation, number)
        self._numbered: dict[int, tuple[str, int]] = {}
        self._loading = asyncio.Lock()
        bus = runtime.bus
        bus.subscribe("webchat.message", self._on_message)
        bus.subscribe("webchat.typing", self._on_typing)
        bus.subscribe("message.read", self._on_read)
        bus.subscribe("presence.changed", self._on_presence)
        bus.subscribe("message.created", self._on_agent_message)
        bus.subscribe("webchat.agent_active", self._on_agent_active)
        bus.subscribe("channel.account_*", self._options.clear)
        bus.subscribe("team.*", self._forget_teams)

    # -- accounts ----------------------------------------------------------------------------
    async def options(self, channel: str) -> ChatOptions | None:
        """The active web chat account named by id or by its public ``key``."""
        found = self._options.get(channel)
        if found is not None:
            return found
        async with self._loading:  # a thousand widgets connecting at once load it once
            found = self._options.get(channel)
            if found is None:
                found = await self._load_options(channel)
        return found

    async def _load_options(self, channel: str) -> ChatOptions | None:
        box = secret_box(self.runtime)
        accounts_ = await self.runtime.db.read(list_accounts, box, "webchat")
        match = next(
            (a for a in accounts_ if str(a.id) == channel or a.config.get("key") == channel), None
        )
        if match is None or not match.active:
            return None
        config = await self.runtime.db.read(account_config, box, match.id)
        limit = self.runtime.settings.max_attachment_bytes
        found = chat_options(config, match.name, limit)
        self._options.put(channel, found)
        return found

    async def info(self, options: ChatOptions) -> service.ChatInfo:
        found = self._info.get(options.account_id)
        if found is None:
            async with self._loading:
                found = self._info.get(options.account_id)
                if found is None:
                    found = await self.runtime.db.read(service.chat_info, options)
                    self._info.put(options.account_id, found)
        return found

    def online(self, options: ChatOptions) -> bool:
        if options.availability != "auto":
            return options.availability == "always"
        return bool(self.agents) or time.monotonic() - self.agent_active_at < AGENT_ACTIVE_S

    def file_signature(self, public_id: str, attachment_id: int) -> str:
        key = hashlib.sha256(b"kefu-webchat-files:" + self.runtime.secret_key.encode()).digest()
        message = f"{public_id}:{attachment_id}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]

    def _visitor_text(self, public_id: str, frame: dict[str, Any]) -> str:
        if frame.get("files"):
            frame = {
                **frame,
                "files": [
                    {**f, "url": self._file_url(public_id, int(f["id"]))} for f in frame["files"]
                ],
            }
        return orjson.dumps(frame).decode()

    def _file_url(self, public_id: str, attachment_id: int) -> str:
        sig = self.file_signature(public_id, attachment_id)
        return f"/api/v1/webchat/files/{public_id}/{attachment_id}/{sig}"

    # -- visitors ----------------------------------------------------------------------------
    def attach(
        self,
        conn: VisitorConn,
        session_id: int,
        public_id: str,
        since: int,
        stored: int | None = None,
    ) -> None:
        """Follow a conversation from number ``since`` on: what is stored is read now,
        what is announced meanwhile waits behind it. ``stored``: the conversation's last
        number, when the caller knows nothing can have been numbered since it read it (a
        conversation its own write just created): no read when that is not past ``since``."""
        conn.session_id, conn.public_id, conn.last_seq = session_id, public_id, since
        self.visitors.setdefault(session_id, set()).add(conn)
        if stored is None or stored > since:
            self._catch_up(conn)

    def detach(self, conn: VisitorConn) -> None:
        conns = self.visitors.get(conn.session_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                self.visitors.pop(conn.session_id, None)

    def _catch_up(self, conn: VisitorConn) -> None:
        if conn.syncing:
            return
        conn.syncing = True
        self._spawn(self._read_missing(conn))

    async def _read_missing(self, conn: VisitorConn) -> None:
        try:
            while True:
                frames = await self.runtime.db.read(
                    messages.frames, conn.session_id, conn.last_seq, None, CATCH_UP_PAGE
                )
                for frame in frames:
                    conn.push(self._visitor_text(conn.public_id, frame))
                    conn.last_seq = int(frame["seq"])
                if len(frames) < CATCH_UP_PAGE:
                    break
        except Exception:
            log.exception("reading web chat conversation %s failed", conn.session_id)
            conn.close()
        finally:
            conn.syncing = False
        self._release_held(conn)

    def _offer(self, conn: VisitorConn, seq: int, text: str) -> None:
        if seq <= conn.last_seq:
            return
        if conn.syncing or seq > conn.last_seq + 1:
            conn.held[seq] = text
            self._catch_up(conn)
            return
        conn.push(text)
        conn.last_seq = seq
        self._release_held(conn)

    def _release_held(self, conn: VisitorConn) -> None:
        for seq in sorted(conn.held):
            if seq <= conn.last_seq:
                conn.held.pop(seq)
            elif seq == conn.last_seq + 1:
                conn.push(conn.held.pop(seq))
                conn.last_seq = seq
        if conn.held and not conn.syncing:
            self._catch_up(conn)

    def _on_message(self, event: Event) -> None:
        data = event.payload
        session_id, seq, frame = int(data["session_id"]), int(data["seq"]), data["frame"]
        if data.get("author") == "agent":
            self._remember_numbered(int(data["message_id"]), str(data["conversation"]), seq)
        conns = self.visitors.get(session_id)
        if conns:
            text = self._visitor_text(str(data["conversation"]), frame)
            for conn in list(conns):
                conn.ticket_id = data.get("ticket_id")
                self._offer(conn, seq, text)
        if self.agents:
            if self._private_teams is None:
                self._spawn(self._to_agents_later(data))
            else:
                self._to_agents(data, self._private_teams)

    def _remember_numbered(self, message_id: int, conversation: str, seq: int) -> None:
        if message_id in self._numbered:
            return  # the first conversation's number, as ``number_reply`` returns it
        if len(self._numbered) >= NUMBERED_KEPT:
            del self._numbered[next(iter(self._numbered))]  # the oldest
        self._numbered[message_id] = (conversation, seq)

    def numbered(self, message_id: int) -> tuple[str, int] | None:
        """(conversation, number) of an agent's reply this process saw numbered: its
        numbering committed, so the outbox's send has nothing left to write."""
        return self._numbered.get(message_id)

    def take_numbered(self, message_id: int) -> tuple[str, int] | None:
        """``numbered``, forgotten as it is answered: the outbox asks once per reply, and a
        message id that SQLite hands out again (after a deletion) must not be taken for
        this reply."""
        return self._numbered.pop(message_id, None)

    def visitor_typing(self, conn: VisitorConn, on: bool) -> None:
        if conn.ticket_id is None:
            return
        self._publish(
            "webchat.typing",
            ticket_id=conn.ticket_id,
            session_id=conn.session_id,
            who="customer",
            on=on,
        )

    def _to_session(self, session_id: int | None, frame: dict[str, Any]) -> None:
        text = orjson.dumps(frame).decode()
        for conn in list(self.visitors.get(session_id or 0, ())):
            conn.push(text)

    def _to_ticket(self, ticket_id: int | None, frame: dict[str, Any]) -> None:
        text = orjson.dumps(frame).decode()
        for conns in list(self.visitors.values()):
            for conn in list(conns):
                if conn.ticket_id is not None and conn.ticket_id == ticket_id:
                    conn.push(text)

    # -- agents ------------------------------------------------------------------------------
    def agent_joined(self, conn: AgentConn) -> None:
        self.agents.add(conn)
        self.agent_is_active(conn)

    def agent_left(self, conn: AgentConn) -> None:
        self.agents.discard(conn)

    def agent_is_active(self, conn: AgentConn) -> None:
        assert conn.principal is not None
        self._publish("webchat.agent_active", user_id=conn.principal.user_id)

    def agent_typing(self, conn: AgentConn, ticket_id: int, on: bool) -> None:
        assert conn.principal is not None
        me = conn.principal
        self._publish(
            "webchat.typing",
            ticket_id=ticket_id,
            who="agent",
            user_id=me.user_id,
            name=me.name,
            on=on,
        )

    async def _to_agents_later(self, data: dict[str, Any]) -> None:
        self._to_agents(data, await self._private())

    def _to_agents(self, data: dict[str, Any], private_teams: set[int]) -> None:
        ticket_id = data.get("ticket_id")
        wants = _audience(data, data.get("team_id") in private_teams)
        frame = {
            **data["frame"],
            "ticket_id": ticket_id,
            "conversation": data.get("conversation"),
            "visitor": data.get("visitor", ""),
        }
        text = orjson.dumps(frame).decode()
        author_id = data.get("author_user_id")
        for conn in list(self.agents):
            assert conn.principal is not None
            if wants(conn) and (author_id is None or conn.principal.user_id != author_id):
                conn.push(text)
                if ticket_id is not None:
                    conn.following.add(int(ticket_id))

    async def _private(self) -> set[int]:
        if self._private_teams is None:
            teams = await self.runtime.db.read(accounts.list_teams)
            self._private_teams = {t.id for t in teams if t.private}
        return self._private_teams

    def _forget_teams(self, _: Event) -> None:
        self._private_teams = None

    # -- typing, receipts, activity ----------------------------------------------------------
    def _on_typing(self, event: Event) -> None:
        data = event.payload
        if data.get("who") == "agent":
            self.agent_active_at = time.monotonic()
            frame = {
                "type": "typing",
                "from": "agent",
                "name": data.get("name", ""),
                "on": data.get("on"),
            }
            self._to_ticket(data.get("ticket_id"), frame)
        elif self.agents:
            frame = {
                "type": "typing",
                "from": "customer",
                "ticket_id": data.get("ticket_id"),
                "on": data.get("on"),
            }
            self._to_watchers(data.get("ticket_id"), frame)

    def _on_read(self, event: Event) -> None:
        data = event.payload
        if data.get("reader") == "agent":
            self._to_session(
                data.get("session_id"), {"type": "read", "by": "agent", "seq": data.get("seq")}
            )
        elif self.agents:
            frame = {
                "type": "read",
                "by": "customer",
                "ticket_id": data.get("ticket_id"),
                "seq": data.get("seq"),
                "message_ids": data.get("message_ids", []),
            }
            self._to_watchers(data.get("ticket_id"), frame)

    def _to_watchers(self, ticket_id: int | None, frame: dict[str, Any]) -> None:
        """Typing and receipts go to the agents following the ticket's chat (those who got
        its messages: it is theirs, watched, or in their teams)."""
        text = orjson.dumps(frame).decode()
        for conn in list(self.agents):
            if ticket_id in conn.watched or ticket_id in conn.following:
                conn.push(text)

    def _on_presence(self, event: Event) -> None:
        """The workspace says an agent is typing on a ticket page: the visitor sees it."""
        data = event.payload
        self.agent_active_at = time.monotonic()
        typing = data.get("state") == "typing" and float(data.get("typing_until", 0)) > time.time()
        frame = {"type": "typing", "from": "agent", "name": data.get("name", ""), "on": typing}
        self._to_ticket(data.get("ticket_id"), frame)

    def _on_agent_message(self, event: Event) -> None:
        data = event.payload
        if data.get("author_type") != "agent":
            return
        self.agent_active_at = time.monotonic()
        mine = event.origin == "local" and data.get("channel") == CHANNEL
        if mine and data.get("visibility") == "public":
            self._spawn(self._number_now(int(data["ticket_id"]), int(data["message_id"])))

    async def _number_now(self, ticket_id: int, message_id: int) -> None:
        """Number an agent's reply at once, rather than when the outbox gets to it: the
        outbox still sends it (durably, idempotently) and records its delivery. Nothing to
        do when its own transaction numbered it (``messages.number_on_write``): its
        ``webchat.message`` was published with its ``message.created``, before this runs."""
        if message_id in self._numbered:
            return
        try:
            await self.runtime.db.write(messages.number_reply, ticket_id, message_id, "")
        except NotFound:
            pass  # no conversation on the ticket: the outbox reports the failure
        except Exception:
            log.exception("numbering web chat reply %s failed; the outbox will", message_id)

    def _on_agent_active(self, _: Event) -> None:
        self.agent_active_at = time.monotonic()

    # -- plumbing ----------------------------------------------------------------------------
    def _publish(self, event: str, **payload: Any) -> None:
        self.runtime.bus.publish([Event(event, payload, self.runtime.clock.now())])

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for conns in list(self.visitors.values()):
            for conn in list(conns):
                conn.close()
        for agent in list(self.agents):
            agent.close()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _audience(data: dict[str, Any], private: bool) -> Callable[[AgentConn], bool]:
    """Which agents' sockets get a chat's messages: theirs, watched, their teams' (scope
    ``teams``), or any they may see (scope ``all``)."""
    ticket_id, team_id = data.get("ticket_id"), data.get("team_id")
    assignee_id = data.get("assignee_id")

    def wants(conn: AgentConn) -> bool:
        me = conn.principal
        assert me is not None
        if ticket_id in conn.watched or (assignee_id is not None and assignee_id == me.user_id):
            return True
        if conn.scope == "teams":
            return team_id in me.team_ids
        return conn.scope == "all" and can_see_ticket(me, team_id, private, assignee_id)

    return wants
