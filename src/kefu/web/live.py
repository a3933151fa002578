"""Live updates for open pages, over Server-Sent Events fed by the event bus.

A page opens ``GET /live`` (the inbox) or ``GET /live?ticket=ID`` (a ticket page). The hub
sends each connection small notices, never field values: ``ticket`` (a ticket was created
or changed: its id, the event name and who did it) and ``message`` (a message was added);
the page then fetches what it shows through the normal, permission-checked routes. A
ticket page also receives ``presence``: who else is viewing or typing there, rendered in
the reader's language. Events from other processes arrive through the Redis fan-out like
local ones, so this works with many kefu processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated

import orjson
from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import StreamingResponse

from kefu.accounts import service as accounts
from kefu.db import Ctx
from kefu.events import Event
from kefu.kit.cache import TTLCache
from kefu.kit.errors import NotFound, invalid
from kefu.runtime import Runtime
from kefu.security.deps import RuntimeDep
from kefu.security.permissions import Principal, can_see_ticket
from kefu.tickets import service as tickets
from kefu.web.auth import WebUser
from kefu.web.presence import LEFT, STALE_S, STATES, TYPING_S, PresenceRegistry, Viewer, payload
from kefu.web.render import render_text
from kefu.web.state import web_state

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
HEARTBEAT_S = 15.0
QUEUE_LIMIT = 500


def sse(event: str, data: str) -> str:
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n"


class Connection:
    def __init__(self, principal: Principal, ticket_id: int | None) -> None:
        self.key = uuid.uuid4().hex
        self.principal = principal
        self.ticket_id = ticket_id
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(QUEUE_LIMIT)

    def send(self, message: str | None) -> None:
        """Safe from any thread; a reader that fell far behind is cut off and reconnects."""
        if _running_loop() is not self.loop:
            self.loop.call_soon_threadsafe(self.send, message)
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.queue = asyncio.Queue(1)
            self.queue.put_nowait(None)


class LiveHub:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.presence = PresenceRegistry()
        self.connections: set[Connection] = set()
        self._private_teams: set[int] | None = None
        self._placements: TTLCache[int, Placement] = TTLCache(300.0, max_entries=20_000)
        self._order = asyncio.Lock()
        for pattern in ("ticket.*", "message.created", "tag.*", "sla.*"):
            runtime.bus.subscribe(pattern, self._on_ticket_event)
        runtime.bus.subscribe("presence.changed", self._on_presence)
        runtime.bus.subscribe("team.*", self._forget_teams)

    # -- connections -----------------------------------------------------------------------
    def connect(self, principal: Principal, ticket_id: int | None) -> Connection:
        conn = Connection(principal, ticket_id)
        self.connections.add(conn)
        if ticket_id is not None:
            self.announce(conn, "viewing")
        return conn

    def disconnect(self, conn: Connection) -> None:
        self.connections.discard(conn)
        if conn.ticket_id is not None:
            self.announce(conn, LEFT)

    def close(self) -> None:
        for conn in list(self.connections):
            conn.send(None)

    async def stream(self, conn: Connection) -> AsyncIterator[str]:
        try:
            yield "retry: 3000\n\n"
            yield sse("hello", orjson.dumps({"key": conn.key}).decode())
            if conn.ticket_id is not None:
                yield sse("presence", self._presence_html(conn))
            while True:
                try:
                    message = await asyncio.wait_for(conn.queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    message = ": ping\n\n"
                    self._renew(conn)
                if message is None:
                    return
                yield message
        finally:
            self.disconnect(conn)

    # -- presence --------------------------------------------------------------------------
    def announce(self, conn: Connection, state: str) -> None:
        if conn.ticket_id is not None:
            me = conn.principal
            self._publish_presence(conn.ticket_id, conn.key, me.user_id, me.name, state)

    def _publish_presence(
        self, ticket_id: int, key: str, user_id: int, name: str, state: str
    ) -> None:
        now = time.time()
        viewer = Viewer(
            key=key,
            user_id=user_id,
            name=name,
            state=state,
            typing_until=now + TYPING_S if state == "typing" else 0.0,
            seen_until=now + STALE_S,
        )
        data = payload(viewer, ticket_id)
        self.runtime.bus.publish([Event("presence.changed", data, self.runtime.clock.now())])

    def _renew(self, conn: Connection) -> None:
        self.presence.purge()
        if conn.ticket_id is None:
            return
        current = self.presence.get(conn.ticket_id, conn.key)
        self.announce(conn, current.state if current and current.typing else "viewing")

    def set_state(self, key: str, user: Principal, state: str) -> None:
        """Typing or not, for the connection ``key`` of this user, on whichever process
        holds it (the registry is the same everywhere)."""
        found = self.presence.find(key)
        if found is None or found[1].user_id != user.user_id:
            raise NotFound("Live connection", key)
        self._publish_presence(found[0], key, user.user_id, user.name, state)

    def _on_presence(self, event: Event) -> None:
        if not self.presence.apply(event.payload):
            return
        ticket_id = int(event.payload["ticket_id"])
        for conn in list(self.connections):
            if conn.ticket_id == ticket_id and conn.key != event.payload.get("key"):
                conn.send(sse("presence", self._presence_html(conn)))

    def _presence_html(self, conn: Connection) -> str:
        assert conn.ticket_id is not None
        viewers = self.presence.viewers(conn.ticket_id, exclude_user=conn.principal.user_id)
        me = conn.principal
        return render_text(
            None, me.language, me.time_zone, "tickets/_presence.html", {"viewers": viewers}
        )

    # -- ticket events ---------------------------------------------------------------------
    async def _on_ticket_event(self, event: Event) -> None:
        if not self.connections:
            return
        async with self._order:  # handlers run as tasks; this keeps the events in order
            data = event.payload
            notice = {
                "kind": event.name,
                "id": data.get("ticket_id"),
                "actor": data.get("actor_id"),
            }
            related = {data.get("ticket_id"), *(data.get("source_ids") or [])}
            hidden = await self._hidden_for(event)
            kind = "message" if event.name == "message.created" else "ticket"
            message = sse(kind, orjson.dumps(notice).decode())
            for conn in list(self.connections):
                wants = conn.ticket_id is None or conn.ticket_id in related
                if wants and not hidden(conn.principal):
                    conn.send(message)

    async def _hidden_for(self, event: Event) -> Callable[[Principal], bool]:
        """Whom this event must not reach: agents outside the private team of its ticket."""
        private = await self._private()
        ticket_id = event.payload.get("ticket_id")
        everyone_sees = all(c.principal.sees_all_tickets for c in self.connections)
        if not private or everyone_sees or not isinstance(ticket_id, int):
            return _nobody
        placement = await self._placement_of(event, ticket_id)
        if placement is None:
            return _nobody
        team_id, assignee_id = placement
        return lambda p: not can_see_ticket(p, team_id, team_id in private, assignee_id)

    async def _placement_of(self, event: Event, ticket_id: int) -> Placement | None:
        data = event.payload
        if event.name == "ticket.created":
            self._placements.put(ticket_id, (data.get("team_id"), data.get("assignee_id")))
        elif any(c.get("field") in PLACEMENT for c in data.get("changes") or []):
            self._placements.drop(ticket_id)
        placement = self._placements.get(ticket_id)
        if placement is None:
            placement = await self.runtime.db.read(_placement, ticket_id)
            if placement is not None:
                self._placements.put(ticket_id, placement)
        return placement

    async def _private(self) -> set[int]:
        if self._private_teams is None:
            teams = await self.runtime.db.read(accounts.list_teams)
            self._private_teams = {t.id for t in teams if t.private}
        return self._private_teams

    def _forget_teams(self, _: Event) -> None:
        self._private_teams = None


Placement = tuple[int | None, int | None]
PLACEMENT = ("team_id", "assignee_id")


def _nobody(_: Principal) -> bool:
    return False


def _placement(ctx: Ctx, ticket_id: int) -> Placement | None:
    """(team, assignee) of a ticket, which decide who may hear of it."""
    try:
        ticket = tickets.load_ticket(ctx, None, ticket_id)
    except NotFound:
        return None
    return ticket.team_id, ticket.assignee_id


def _running_loop() -> asyncio.AbstractEventLoop | None:
    with contextlib.suppress(RuntimeError):
        return asyncio.get_running_loop()
    return None


@router.get("/live")
async def live(
    request: Request, me: WebUser, runtime: RuntimeDep, ticket: int | None = None
) -> StreamingResponse:
    """The page's live feed (text/event-stream)."""
    if ticket is not None:
        await runtime.db.read(tickets.get_ticket, me, ticket)
    hub = web_state(request).hub
    conn = hub.connect(me, ticket)
    return StreamingResponse(
        hub.stream(conn),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post("/live/presence", status_code=204)
async def set_presence(
    request: Request,
    me: WebUser,
    key: Annotated[str, Form(max_length=64)],
    state: Annotated[str, Form()],
) -> Response:
    """The page says its reader started or stopped typing a reply."""
    if state not in STATES:
        raise invalid(["body", "state"], f"must be one of {', '.join(STATES)}")
    web_state(request).hub.set_state(key, me, state)
    return Response(status_code=204)
