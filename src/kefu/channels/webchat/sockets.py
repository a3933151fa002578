"""The two WebSocket endpoints: the visitor's widget and agents' consoles.

Protocol: docs/channels/webchat.md. Every frame is JSON text. What the server sends to a
socket goes through its outlet queue, so replies (welcome, ack, error) and pushed messages
leave in the order they were produced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta
from typing import Any

import orjson
from babel import Locale
from babel.dates import format_timedelta
from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from kefu.accounts import service as accounts
from kefu.channels.webchat import identity as identities
from kefu.channels.webchat import messages, service
from kefu.channels.webchat.hub import AgentConn, ChatHub, Outlet, VisitorConn
from kefu.channels.webchat.options import ChatOptions
from kefu.channels.webchat.schemas import (
    AGENT_FRAME,
    VISITOR_FRAME,
    AgentRead,
    AgentTyping,
    Hello,
    Profile,
    Read,
    Received,
    SendMessage,
    Typing,
    Watch,
)
from kefu.channels.webchat.strings import text
from kefu.kit.errors import DomainError, Invalid, TooManyRequests, Unauthorized
from kefu.runtime import Runtime
from kefu.security.deps import SESSION_COOKIE
from kefu.security.permissions import Action, Principal
from kefu.tickets import service as tickets
from kefu.web.i18n import supported

log = logging.getLogger(__name__)
HELLO_TIMEOUT_S = 10.0
MARK_EVERY_S = 1.0
TYPING_EVERY_S = 2.0
ACTIVE_EVERY_S = 60.0
BURST, REFILL_PER_S = 20, 1.0  # a visitor may send 20 messages at once, then one a second


def dumps(frame: dict[str, Any]) -> str:
    return orjson.dumps(frame).decode()


def error(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "detail": detail, **extra}


async def drain(ws: WebSocket, outlet: Outlet) -> None:
    """Send the outlet's frames until it is closed (None) or the socket fails."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        while (item := await outlet.queue.get()) is not None:
            await ws.send_text(item)
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        await ws.close()


async def receive(ws: WebSocket) -> str:
    """The next frame's text; a binary frame is read as UTF-8 JSON too."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    if message.get("text") is not None:
        return str(message["text"])
    return bytes(message.get("bytes") or b"").decode("utf-8", "replace")


async def refuse(ws: WebSocket, code: str, detail: str, close_code: int) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        await ws.send_text(dumps(error(code, detail)))
        await ws.close(close_code)


class TokenBucket:
    def __init__(self, burst: int, per_s: float) -> None:
        self.burst, self.per_s = burst, per_s
        self.tokens, self.at = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_s)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


# -- the visitor's socket ------------------------------------------------------------------
async def read_hello(ws: WebSocket) -> Hello | None:
    try:
        raw = await asyncio.wait_for(receive(ws), HELLO_TIMEOUT_S)
        return Hello.model_validate_json(raw)
    except (TimeoutError, ValidationError) as exc:
        await refuse(ws, "bad_frame", f"the first frame must be a hello: {exc}", 4400)
    except WebSocketDisconnect:
        pass
    return None


class VisitorSocket:
    def __init__(
        self, ws: WebSocket, hub: ChatHub, options: ChatOptions, hello: Hello, lang: str
    ) -> None:
        self.ws, self.hub, self.options, self.hello, self.lang = ws, hub, options, hello, lang
        self.runtime: Runtime = hub.runtime
        self.conn = VisitorConn()
        self.ref: service.SessionRef | None = None
        self.identity: identities.Identity | None = None
        self.bucket = TokenBucket(BURST, REFILL_PER_S)
        self.typing_at = 0.0
        self.marks: dict[bool, int] = {}  # read? -> the highest number the widget reported
        self.stored: dict[bool, int] = {}  # read? -> the mark the last flush left stored
        self.marker: asyncio.Task[None] | None = None  # the flush a reported mark waits for

    async def run(self) -> None:
        writer = asyncio.create_task(drain(self.ws, self.conn))
        try:
            await self._start()
            while True:
                await self._handle(await receive(self.ws))
        except WebSocketDisconnect:
            pass
        finally:
            self.hub.detach(self.conn)
            if self.marker is not None:
                self.marker.cancel()
            await self._flush_marks()
            self.conn.close()
            await writer

    async def _start(self) -> None:
        problem = self._check_identity()
        view = None
        if self.hello.session:
            view = await self.runtime.db.read(
                service.resume, self.options.account_id, self.hello.session, self.identity
            )
        if view is None:
            self.ref = service.new_session(self.options.account_id, self.identity, self.lang)
        else:
            self.ref = view.id
        self.conn.push(dumps(await self._welcome(view)))
        if problem is not None:
            self.conn.push(dumps(error(problem.code, problem.detail)))
        if view is not None:
            self.hub.attach(
                self.conn, view.id, view.public_id, min(self.hello.since, view.last_seq)
            )
            self.conn.ticket_id = view.ticket_id

    def _check_identity(self) -> identities.IdentityError | None:
        if not self.hello.identity:
            return None
        checked = identities.verify(
            self.hello.identity, self.options.identity_secret, self.runtime.clock.now()
        )
        if isinstance(checked, identities.IdentityError):
            return checked
        self.identity = checked
        return None

    async def _welcome(self, view: service.SessionView | None) -> dict[str, Any]:
        info = await self.hub.info(self.options)
        online = self.hub.online(self.options)
        return {
            "type": "welcome",
            "conversation": view.public_id if view else None,
            "last_seq": view.last_seq if view else 0,
            "agent_read_seq": view.agent_read_seq if view else 0,
            "ticket_id": view.ticket_id if view else None,
            "title": self.options.title,
            "online": online,
            "reply_hint": reply_hint(self.lang, info.reply_delay_s) if online else None,
            "teams": [{"id": t, "name": name} for t, name in info.teams],
            "prechat": self.options.prechat and self.identity is None,
            "require_email": self.options.require_email or not online,
            "identified": self.identity is not None,
            "profile": _profile(view, self.identity),
            "max_upload_bytes": self.options.max_upload_bytes,
        }

    async def _handle(self, raw: str) -> None:
        try:
            frame = VISITOR_FRAME.validate_json(raw)
        except ValidationError as exc:
            self.conn.push(dumps(_invalid_frame(exc, raw)))
            return
        if isinstance(frame, SendMessage):
            await self._message(frame)
        elif isinstance(frame, Profile):
            await self._profile(frame)
        elif isinstance(frame, Typing):
            self._typing(frame.on)
        elif isinstance(frame, Received | Read):
            self._mark(frame.seq, isinstance(frame, Read))
        else:
            self.conn.push('{"type":"pong"}')

    async def _message(self, frame: SendMessage) -> None:
        cid = frame.client_id
        if not frame.text.strip() and not frame.uploads:
            self.conn.push(dumps(error("invalid", "a message needs text or a file", client_id=cid)))
            return
        if not self.bucket.take():
            self.conn.push(dumps(error("rate_limited", "wait a moment", client_id=cid)))
            return
        posted = await self._write(
            messages.post_message,
            self.options,
            self.ref,
            cid,
            frame.text,
            frame.uploads,
            self.lang,
            client_id=cid,
        )
        if posted is None:
            return
        self._started(posted.session)
        self.conn.ticket_id = posted.ticket_id
        self.conn.push(
            dumps(
                {
                    "type": "ack",
                    "client_id": cid,
                    "seq": posted.seq,
                    "id": posted.message_id,
                    "ticket_id": posted.ticket_id,
                    "duplicate": posted.duplicate,
                }
            )
        )

    async def _profile(self, frame: Profile) -> None:
        view = await self._write(
            service.set_profile,
            self.options,
            self.ref,
            frame.name,
            frame.email,
            frame.team_id,
            self.lang,
        )
        if view is not None:
            self._started(view)
            self.conn.push(dumps({"type": "profile", **_profile(view, self.identity)}))

    def _started(self, view: service.SessionView) -> None:
        """The first write created the conversation: the widget learns its token."""
        if view.token is None:
            return
        self.ref = view.id
        self.conn.push(
            dumps({"type": "session", "session": view.token, "conversation": view.public_id})
        )
        # Created by this write: its last number is all there is (the pre-chat form: none).
        self.hub.attach(self.conn, view.id, view.public_id, 0, stored=view.last_seq)

    async def _write(self, fn: Any, *args: Any, client_id: str | None = None) -> Any:
        """Run a write; its refusal becomes an error frame (the widget keeps the message)."""
        extra = {"client_id": client_id} if client_id else {}
        try:
            return await self.runtime.db.write(fn, *args)
        except TooManyRequests as exc:
            self.conn.push(dumps(error("rate_limited", exc.detail, **extra)))
        except Invalid as exc:
            loc = exc.errors[0].loc if exc.errors else []
            code = "upload_missing" if loc[:1] == ["uploads"] else "invalid"
            self.conn.push(dumps(error(code, exc.detail, field=loc, **extra)))
        except DomainError as exc:
            self.conn.push(dumps(error("invalid", exc.detail, **extra)))
        except Exception:
            log.exception("web chat write failed")
            self.conn.push(dumps(error("busy", "try again shortly", **extra)))
        return None

    def _typing(self, on: bool) -> None:
        now = time.monotonic()
        if on and now - self.typing_at < TYPING_EVERY_S:
            return
        self.typing_at = now if on else 0.0
        self.hub.visitor_typing(self.conn, on)

    def _mark(self, seq: int, read: bool) -> None:
        if self.conn.session_id:
            self.marks[read] = max(seq, self.marks.get(read, 0))
            if self.marker is None:  # a socket with nothing to report sets no timer
                self.marker = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(MARK_EVERY_S)
        self.marker = None
        await self._flush_marks()

    async def _flush_marks(self) -> None:
        """Receipts are written at most once a second per socket, however often sent: both
        marks in one write job, and none for marks no higher than what is stored already."""
        marks, self.marks = self.marks, {}
        new = {read: seq for read, seq in marks.items() if seq > self.stored.get(read, 0)}
        if not new:
            return
        try:
            stored = await self.runtime.db.write(service.visitor_marks, self.conn.session_id, new)
        except Exception:
            log.exception("recording a web chat receipt failed")
            return
        self.stored.update(stored)


def _profile(view: service.SessionView | None, who: identities.Identity | None) -> dict[str, Any]:
    if view is not None:
        return {"name": view.name, "email": view.email, "team_id": view.team_id}
    if who is not None:
        return {"name": who.name, "email": who.email, "team_id": None}
    return {"name": "", "email": None, "team_id": None}


def _invalid_frame(exc: ValidationError, raw: str) -> dict[str, Any]:
    errors = exc.errors()
    loc = [str(p) for p in errors[0]["loc"]] if errors else []
    kind = errors[0]["type"] if errors else ""
    code = "too_long" if loc[-1:] == ["text"] and kind == "string_too_long" else "bad_frame"
    detail = errors[0]["msg"] if errors else "not a frame of this protocol"
    client_id = None
    with contextlib.suppress(orjson.JSONDecodeError, AttributeError, TypeError):
        client_id = orjson.loads(raw).get("client_id")
    extra = {"client_id": client_id} if isinstance(client_id, str) else {}
    return error(code, detail, field=loc, **extra)


def reply_hint(language: str, delay_s: float | None) -> str:
    """'Typically replies within 5 minutes', from recent conversations' first replies."""
    if delay_s is None or delay_s < 60:
        return text(language, "reply_minutes")
    span = format_timedelta(
        timedelta(seconds=delay_s), threshold=1.1, locale=Locale.parse(supported(language))
    )
    return text(language, "reply_within", time=span)


async def visitor(ws: WebSocket, hub: ChatHub) -> None:
    await ws.accept()
    hello = await read_hello(ws)
    if hello is None:
        return
    lang = _language(hello.lang)
    options = await hub.options(hello.channel)
    if options is None:
        await refuse(ws, "unavailable", f"no web chat {hello.channel}", 4404)
        return
    if not options.allows_origin(ws.headers.get("origin")):
        await refuse(ws, "origin_not_allowed", "this site may not embed the chat", 4403)
        return
    await VisitorSocket(ws, hub, options, hello, lang).run()


def _language(tag: str | None) -> str:
    return "zh_CN" if (tag or "").lower().startswith("zh") else "en"


# -- agents' sockets -----------------------------------------------------------------------
async def principal_of(ws: WebSocket, runtime: Runtime) -> Principal | None:
    """A bearer token, or the workspace's session cookie from a page of this same site
    (the Origin check keeps other sites from riding the cookie)."""
    auth = ws.headers.get("authorization", "")
    try:
        if auth.lower().startswith("bearer "):
            check = await runtime.db.read(accounts.check_token, auth[7:].strip())
            return check.principal
        cookie = ws.cookies.get(SESSION_COOKIE)
        origin = ws.headers.get("origin", "")
        if cookie and origin.split("://", 1)[-1] == ws.headers.get("host"):
            principal: Principal = await runtime.db.read(accounts.check_session, cookie)
            return principal
    except Unauthorized:
        return None
    return None


class AgentSocket:
    def __init__(self, ws: WebSocket, hub: ChatHub, principal: Principal, scope: str) -> None:
        self.ws, self.hub, self.runtime = ws, hub, hub.runtime
        self.conn = AgentConn(principal=principal, scope=scope)
        self.visible: set[int] = set()

    @property
    def principal(self) -> Principal:
        assert self.conn.principal is not None
        return self.conn.principal

    async def run(self) -> None:
        writer = asyncio.create_task(drain(self.ws, self.conn))
        beat = asyncio.create_task(self._heartbeat())
        self.hub.agent_joined(self.conn)
        try:
            while True:
                await self._handle(await receive(self.ws))
        except WebSocketDisconnect:
            pass
        finally:
            self.hub.agent_left(self.conn)
            beat.cancel()
            self.conn.close()
            await writer

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(ACTIVE_EVERY_S)
            self.hub.agent_is_active(self.conn)

    async def _handle(self, raw: str) -> None:
        try:
            frame = AGENT_FRAME.validate_json(raw)
        except ValidationError as exc:
            self.conn.push(dumps(_invalid_frame(exc, raw)))
            return
        if isinstance(frame, Watch):
            allowed = [t for t in frame.ticket_ids if await self._may_see(t)]
            self.conn.watched = set(allowed)
            self.conn.push(dumps({"type": "watching", "ticket_ids": allowed}))
        elif isinstance(frame, AgentTyping):
            if await self._may_see(frame.ticket_id):
                self.hub.agent_typing(self.conn, frame.ticket_id, frame.on)
        elif isinstance(frame, AgentRead):
            await self._read(frame.ticket_id)
        else:
            self.conn.push('{"type":"pong"}')

    async def _may_see(self, ticket_id: int) -> bool:
        if ticket_id in self.visible:
            return True
        try:
            await self.runtime.db.read(tickets.get_ticket, self.principal, ticket_id)
        except DomainError:
            self.conn.push(dumps(error("not_found", f"no ticket {ticket_id}", ticket_id=ticket_id)))
            return False
        self.visible.add(ticket_id)
        return True

    async def _read(self, ticket_id: int) -> None:
        try:
            marked = await self.runtime.db.write(service.agent_read, self.principal, ticket_id)
        except DomainError as exc:
            self.conn.push(dumps(error("not_found", exc.detail, ticket_id=ticket_id)))
            return
        self.conn.push(dumps({"type": "marked", "ticket_id": ticket_id, "count": marked}))


async def agent(ws: WebSocket, hub: ChatHub, scope: str) -> None:
    principal = await principal_of(ws, hub.runtime)
    if principal is None or not principal.allows(Action.ticket_read):
        await ws.close(4401 if principal is None else 4403)
        return
    if scope not in ("teams", "all", "watched"):
        await ws.close(4400)
        return
    await ws.accept()
    await AgentSocket(ws, hub, principal, scope).run()
