"""The routing socket: offers reach the agent's browser the moment they are written, the
agent answers on the same socket, and supervisors' wallboards are pushed fresh numbers.

``GET /api/v1/routing/ws`` (WebSocket). Browsers sign in with their session cookie (the
Origin must be this site); other clients send ``Authorization: Bearer <token>``.

Server to client: ``hello`` (seat and pending offers), ``offer`` (a new offer with its
countdown), ``offer_closed`` (accepted, rejected, expired, withdrawn), ``state`` (the seat
changed), ``accepted`` / ``rejected`` / ``error`` (answers), ``wallboard`` (supervisors
who connected with ``?wallboard=1``), ``pong``.
Client to server: ``ping`` (every 15 s: the heartbeat that keeps the agent online),
``accept`` / ``reject`` with ``offer_id``, ``state`` with ``state`` and ``reason``.

Events come from the bus, so an offer written by the dispatcher in another process reaches
this socket through the Redis fan-out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from kefu.accounts import service as accounts
from kefu.events import Event
from kefu.kit.errors import DomainError
from kefu.routing import offers, queues, retry
from kefu.routing import service as seats
from kefu.routing.schemas import StateChange
from kefu.runtime import Runtime
from kefu.security.deps import SESSION_COOKIE
from kefu.security.permissions import Action, Principal

log = logging.getLogger(__name__)
router = APIRouter()
HEARTBEAT_WRITE_S = 10.0
BOARD_DEBOUNCE_S = 0.3
BOARD_REFRESH_S = 10.0
QUEUE_LIMIT = 200


class Socket:
    def __init__(self, principal: Principal, wallboard: bool) -> None:
        self.principal = principal
        self.wallboard = wallboard
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(QUEUE_LIMIT)
        self.heartbeat_at = 0.0

    def send(self, message: dict[str, Any] | None) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            # A reader this far behind is cut off; its page reconnects and says hello again.
            self.queue = asyncio.Queue(1)
            self.queue.put_nowait(None)


class RoutingHub:
    """The routing sockets of this process, fed from the event bus."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.agents: dict[int, set[Socket]] = {}
        self.boards: set[Socket] = set()
        self._board_due: asyncio.TimerHandle | None = None
        self._board_task: asyncio.Task[None] | None = None
        self._board_push: asyncio.Future[None] | None = None
        runtime.bus.subscribe("routing.offer.*", self._on_offer)
        runtime.bus.subscribe("routing.agent.state", self._on_state)
        runtime.bus.subscribe("routing.item.assigned", self._on_assigned)
        runtime.bus.subscribe("routing.*", self._on_any)

    def connect(self, principal: Principal, wallboard: bool) -> Socket:
        sock = Socket(principal, wallboard)
        self.agents.setdefault(principal.user_id, set()).add(sock)
        if wallboard:
            self.boards.add(sock)
            if self._board_task is None or self._board_task.done():
                self._board_task = asyncio.create_task(self._refresh_boards_forever())
        return sock

    def disconnect(self, sock: Socket) -> None:
        self.agents.get(sock.principal.user_id, set()).discard(sock)
        self.boards.discard(sock)
        if not self.boards and self._board_task is not None:
            self._board_task.cancel()

    def _to(self, user_id: int, message: dict[str, Any]) -> None:
        for sock in list(self.agents.get(user_id, ())):
            sock.send(message)

    async def _on_offer(self, event: Event) -> None:
        agent_id = int(event.payload["agent_id"])
        if not self.agents.get(agent_id):
            return
        offer_id = int(event.payload["offer_id"])
        if event.name == "routing.offer.created":
            card = event.payload.get("offer")
            if card is None:
                card = (await self.runtime.db.read(offers.offer_by_id, offer_id)).model_dump(
                    mode="json"
                )
            self._to(agent_id, {"type": "offer", "offer": card})
            return
        status = event.name.rsplit(".", 1)[1]
        closed = {"offer_id": offer_id, "status": status, "reason": event.payload.get("reason")}
        self._to(agent_id, {"type": "offer_closed", **closed})

    def _on_assigned(self, event: Event) -> None:
        data = event.payload
        message = {
            "type": "assigned",
            "item_id": data["item_id"],
            "ticket_id": data.get("ticket_id"),
            "queue_id": data.get("queue_id"),
        }
        self._to(int(data["agent_id"]), message)

    def _on_state(self, event: Event) -> None:
        data = event.payload
        message = {
            "type": "state",
            "state": data["state"],
            "reason": data.get("reason"),
            "since": event.occurred_at.isoformat(),
        }
        self._to(int(data["user_id"]), message)

    def _on_any(self, _event: Event) -> None:
        if not self.boards or self._board_due is not None:
            return
        loop = asyncio.get_running_loop()
        self._board_due = loop.call_later(BOARD_DEBOUNCE_S, self._board_now)

    def _board_now(self) -> None:
        self._board_due = None
        self._board_push = asyncio.ensure_future(self.push_board())

    async def push_board(self) -> None:
        if not self.boards:
            return
        board = await self.runtime.db.read(queues.wallboard)
        message = {"type": "wallboard", "data": board.model_dump(mode="json")}
        for sock in list(self.boards):
            sock.send(message)

    async def _refresh_boards_forever(self) -> None:
        while self.boards:
            with contextlib.suppress(Exception):
                await self.push_board()
            await asyncio.sleep(BOARD_REFRESH_S)


async def authenticate(websocket: WebSocket, runtime: Runtime) -> Principal | None:
    auth = websocket.headers.get("authorization", "")
    scheme, _, raw = auth.partition(" ")
    try:
        if scheme.lower() == "bearer" and raw.strip():
            check = await runtime.db.read(accounts.check_token, raw.strip())
            return check.principal
        cookie = websocket.cookies.get(SESSION_COOKIE)
        if cookie and _same_origin(websocket):
            return await runtime.db.read(accounts.check_session, cookie)
    except DomainError:
        return None
    return None


def _same_origin(websocket: WebSocket) -> bool:
    """A cookie alone must not let another site open an agent's socket."""
    origin = websocket.headers.get("origin")
    return origin is not None and urlsplit(origin).netloc == websocket.headers.get("host")


@router.websocket("/api/v1/routing/ws")
async def routing_socket(websocket: WebSocket, wallboard: bool = False) -> None:
    runtime: Runtime = websocket.app.state.runtime
    hub: RoutingHub = websocket.app.state.routing_hub
    principal = await authenticate(websocket, runtime)
    if principal is None or not principal.allows(Action.routing_self):
        await websocket.close(code=4401 if principal is None else 4403)
        return
    if wallboard and not principal.allows(Action.routing_supervise):
        await websocket.close(code=4403)
        return
    await websocket.accept()
    sock = hub.connect(principal, wallboard)
    writer = asyncio.create_task(_write(websocket, sock))
    try:
        await _beat(runtime, sock)
        await _hello(runtime, hub, sock)
        await _read(websocket, runtime, sock)
    except WebSocketDisconnect:
        pass
    finally:
        hub.disconnect(sock)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer


async def _hello(runtime: Runtime, hub: RoutingHub, sock: Socket) -> None:
    me = sock.principal
    seat = await runtime.db.read(seats.read_seat, me.user_id)
    pending = await runtime.db.read(offers.my_offers, me.user_id)
    sock.send(
        {
            "type": "hello",
            "seat": seat.model_dump(mode="json"),
            "offers": [o.model_dump(mode="json") for o in pending],
        }
    )
    if sock.wallboard:
        await hub.push_board()


async def _write(websocket: WebSocket, sock: Socket) -> None:
    while True:
        message = await sock.queue.get()
        if message is None:
            await websocket.close(code=1013)
            return
        await websocket.send_json(message)


async def _read(websocket: WebSocket, runtime: Runtime, sock: Socket) -> None:
    while True:
        message = await websocket.receive_json()
        if not isinstance(message, dict):
            continue
        kind = message.get("type")
        if kind == "ping":
            await _beat(runtime, sock)
            sock.send({"type": "pong"})
        elif kind in ("accept", "reject", "state"):
            sock.send(await _answer(runtime, sock.principal, kind, message))


async def _beat(runtime: Runtime, sock: Socket) -> None:
    now = time.monotonic()
    if now - sock.heartbeat_at >= HEARTBEAT_WRITE_S:
        sock.heartbeat_at = now
        await runtime.db.write(seats.heartbeat, sock.principal.user_id)


async def _answer(
    runtime: Runtime, me: Principal, kind: str, message: dict[str, Any]
) -> dict[str, Any]:
    offer_id = message.get("offer_id")
    try:
        if kind == "state":
            data = StateChange.model_validate({k: message.get(k) for k in ("state", "reason")})
            seat = await retry.write(runtime, seats.change_state, me, me.user_id, data)
            return {"type": "state", "state": seat.state, "reason": seat.reason}
        if not isinstance(offer_id, int):
            return {"type": "error", "status": 422, "detail": "offer_id must be a number"}
        if kind == "accept":
            item = await retry.write(runtime, offers.accept_offer, me, offer_id)
            return {"type": "accepted", "offer_id": offer_id, "item": item.model_dump(mode="json")}
        offer = await retry.write(runtime, offers.reject_offer, me, offer_id)
        return {"type": "rejected", "offer_id": offer.id}
    except ValidationError as exc:
        return {"type": "error", "status": 422, "detail": str(exc.errors()[0]["msg"])}
    except DomainError as exc:
        reason = exc.errors[0].type if exc.errors else None
        return {
            "type": "error",
            "offer_id": offer_id,
            "status": exc.status,
            "reason": reason,
            "detail": exc.detail,
        }
