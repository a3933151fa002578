"""Webhook endpoints and their deliveries. Never commits.

``on_emit`` runs inside the unit of work of every event (``Ctx.emit``): for each active
endpoint subscribed to the event, a delivery row (the exact body, signed on every attempt)
and an outbox item are written in the same transaction as the change, so a webhook is
sent if and only if the change committed. The outbox retries with exponential back-off;
after the endpoint's ``max_attempts`` the delivery is dead, kept in the log with its last
error, and an admin can send it again.
"""

from __future__ import annotations

import fnmatch
import functools
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic_core import to_jsonable_python

from kefu.db import Ctx, add_emit_hook
from kefu.events import Event, EventBus
from kefu.kit.cache import TTLCache, per_transaction
from kefu.kit.crypto import SecretBox
from kefu.kit.errors import FieldError, Invalid, NotFound
from kefu.kit.pagination import decode_id_cursor, encode_cursor
from kefu.outbox import service as outbox
from kefu.security.permissions import Principal
from kefu.webhooks import guard, signing
from kefu.webhooks import repository as repo
from kefu.webhooks.models import WebhookDelivery, WebhookEndpoint
from kefu.webhooks.schemas import (
    DeliveryDetail,
    DeliveryPage,
    DeliveryRead,
    EndpointIn,
    EndpointList,
    EndpointRead,
)

DELIVER_KIND = "webhook.deliver"
SESSION_KEY = "kefu.webhooks.set"
Loc = list[str | int]
# Events integrators may subscribe to ("*" means these); kefu's own plumbing is left out.
PUBLIC = (
    "ticket.*",
    "message.*",
    "customer.*",
    "company.*",
    "sla.warning",
    "sla.breached",
    "call.*",
    "routing.agent.state",
    "routing.item.*",
    "survey.*",
    "rule.*",
    "macro.*",
    "webhook.test",
)
CATALOGUE = (
    *("ticket.created", "ticket.updated", "ticket.deleted", "ticket.merged", "ticket.linked"),
    *("ticket.unlinked", "message.created", "message.delivery", "customer.created"),
    *("customer.updated", "customer.merged", "company.created", "company.updated"),
    *("company.deleted", "sla.warning", "sla.breached", "call.ringing", "call.answered"),
    *("call.held", "call.resumed", "call.transferred", "call.recording", "call.ended"),
    *("call.wrapped_up", "routing.agent.state", "routing.item.assigned", "survey.rated"),
    *("survey.requested", "rule.created", "rule.updated", "rule.deleted", "macro.created"),
    *("macro.updated", "macro.deleted", "webhook.test"),
)


@functools.lru_cache(maxsize=1024)
def is_public(name: str) -> bool:
    """Cached: it runs for every event kefu emits."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in PUBLIC)


# -- the subscriptions, cached per token -----------------------------------------------------
@dataclass(frozen=True)
class Subscription:
    endpoint_id: int
    patterns: tuple[str, ...]
    max_attempts: int

    def wants(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in self.patterns)


_cached: dict[str, tuple[Subscription, ...]] = {}
_lock = threading.Lock()


# Kept a second per database in the process (as the rules' set): most transactions pay no
# read; a change clears it at once here and through the bus in other processes.
RECENT: TTLCache[str, tuple[Subscription, ...]] = TTLCache(1.0, max_entries=64)


def subscriptions(ctx: Ctx) -> tuple[Subscription, ...]:
    return per_transaction(ctx.session, SESSION_KEY, RECENT, lambda: _load(ctx))


def _load(ctx: Ctx) -> tuple[Subscription, ...]:
    token = repo.config_token(ctx.session)
    if token is None:
        return ()
    if token not in _cached:
        subs = tuple(
            Subscription(e.id, tuple(e.event_types), e.max_attempts)
            for e in repo.endpoints(ctx.session)
            if e.active and e.event_types
        )
        with _lock:
            if len(_cached) > 16:
                _cached.clear()
            _cached[token] = subs
    return _cached[token]


def _changed(ctx: Ctx) -> None:
    repo.set_config_token(ctx.session, uuid.uuid4().hex, ctx.now())
    ctx.session.info.pop(SESSION_KEY, None)
    RECENT.clear()


def install(bus: EventBus) -> None:
    """The hook, and forgetting the cached subscriptions once an endpoint change committed."""
    add_emit_hook(on_emit)
    bus.subscribe("webhook_endpoint.*", RECENT.clear)


def on_emit(ctx: Ctx, event: Event) -> None:
    if not is_public(event.name):
        return
    for sub in subscriptions(ctx):
        if sub.wants(event.name) and _still_active(ctx, sub.endpoint_id):
            at = event.occurred_at
            _enqueue(ctx, sub.endpoint_id, sub.max_attempts, event.name, event.payload, at, None)


def _still_active(ctx: Ctx, endpoint_id: int) -> bool:
    """The cached subscriptions may be a second old (another process deleted the endpoint):
    a delivery to a missing endpoint would fail the change that caused the event."""
    with ctx.session.no_autoflush:
        endpoint = repo.get_endpoint(ctx.session, endpoint_id)
    return endpoint is not None and endpoint.active


def enqueue_one(
    ctx: Ctx,
    endpoint_id: int,
    event_type: str,
    data: Mapping[str, Any],
    ticket_id: int | None = None,
) -> int:
    """A delivery to one endpoint (a rule's "call a webhook"); its id."""
    endpoint = _require(ctx, endpoint_id)
    attempts = endpoint.max_attempts
    return _enqueue(ctx, endpoint.id, attempts, event_type, data, ctx.now(), ticket_id)


def _enqueue(
    ctx: Ctx,
    endpoint_id: int,
    attempts: int,
    event_type: str,
    data: Mapping[str, Any],
    at: datetime,
    ticket_id: int | None,
) -> int:
    message_id = "msg_" + uuid.uuid4().hex
    body = {"type": event_type, "timestamp": at.isoformat(), "data": dict(data)}
    now = ctx.now()
    delivery_id = repo.insert_delivery(
        ctx.session,
        {
            "endpoint_id": endpoint_id,
            "message_id": message_id,
            "event_type": event_type,
            "ticket_id": ticket_id if ticket_id is not None else _ticket_of(data),
            "body": orjson.dumps(to_jsonable_python(body, fallback=str)).decode(),
            "status": "queued",
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        },
    )
    item = outbox.enqueue(ctx, DELIVER_KIND, {"delivery_id": delivery_id}, max_attempts=attempts)
    repo.set_outbox_id(ctx.session, delivery_id, item)
    return delivery_id


def _ticket_of(data: Mapping[str, Any]) -> int | None:
    value = data.get("ticket_id")
    return value if isinstance(value, int) else None


# -- endpoints -------------------------------------------------------------------------------
def endpoint_read(endpoint: WebhookEndpoint, box: SecretBox) -> EndpointRead:
    return EndpointRead(
        id=endpoint.id,
        name=endpoint.name,
        url=endpoint.url,
        description=endpoint.description,
        event_types=list(endpoint.event_types),
        active=endpoint.active,
        allow_private=endpoint.allow_private,
        max_attempts=endpoint.max_attempts,
        secret=box.open(endpoint.secret),
        version=endpoint.version,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def _require(ctx: Ctx, endpoint_id: int) -> WebhookEndpoint:
    endpoint = repo.get_endpoint(ctx.session, endpoint_id)
    if endpoint is None:
        raise NotFound("Webhook endpoint", endpoint_id)
    return endpoint


def endpoint_ids(ctx: Ctx) -> dict[str, int]:
    """Endpoints by name, for rules that call one."""
    return {e.name: e.id for e in repo.endpoints(ctx.session)}


def list_endpoints(ctx: Ctx, box: SecretBox) -> EndpointList:
    return EndpointList(items=[endpoint_read(e, box) for e in repo.endpoints(ctx.session)])


def get_endpoint(ctx: Ctx, box: SecretBox, endpoint_id: int) -> EndpointRead:
    return endpoint_read(_require(ctx, endpoint_id), box)


def _check(ctx: Ctx, data: EndpointIn, endpoint_id: int | None) -> None:
    errors: list[FieldError] = []
    problem = guard.check_url(data.url)
    if problem:
        errors.append(FieldError(["body", "url"], problem))
    for index, pattern in enumerate(data.event_types):
        if not any(fnmatch.fnmatchcase(name, pattern) for name in CATALOGUE):
            msg = f"'{pattern}' matches no event kefu sends; see GET /api/v1/webhooks/events"
            errors.append(FieldError(["body", "event_types", index], msg))
    if data.secret is not None and not signing.is_secret(data.secret):
        errors.append(FieldError(["body", "secret"], "must be whsec_ and base64 of 16+ bytes"))
    other = repo.endpoint_by_name(ctx.session, data.name)
    if other is not None and other.id != endpoint_id:
        errors.append(FieldError(["body", "name"], f"an endpoint named '{data.name}' exists"))
    if errors:
        raise Invalid(errors)


def create_endpoint(ctx: Ctx, actor: Principal, box: SecretBox, data: EndpointIn) -> EndpointRead:
    _check(ctx, data, None)
    now = ctx.now()
    endpoint = WebhookEndpoint(
        **data.model_dump(exclude={"secret"}),
        secret=box.seal(data.secret or signing.new_secret()),
        version=1,
        updated_by_id=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    repo.add(ctx.session, endpoint)
    _changed(ctx)
    ctx.emit("webhook_endpoint.created", endpoint_id=endpoint.id)
    return endpoint_read(endpoint, box)


def update_endpoint(
    ctx: Ctx, actor: Principal, box: SecretBox, endpoint_id: int, data: EndpointIn
) -> EndpointRead:
    endpoint = _require(ctx, endpoint_id)
    _check(ctx, data, endpoint_id)
    for key, value in data.model_dump(exclude={"secret"}).items():
        setattr(endpoint, key, value)
    if data.secret is not None:
        endpoint.secret = box.seal(data.secret)
    endpoint.version += 1
    endpoint.updated_at, endpoint.updated_by_id = ctx.now(), actor.user_id
    _changed(ctx)
    ctx.emit("webhook_endpoint.updated", endpoint_id=endpoint.id)
    return endpoint_read(endpoint, box)


def rotate_secret(ctx: Ctx, actor: Principal, box: SecretBox, endpoint_id: int) -> EndpointRead:
    endpoint = _require(ctx, endpoint_id)
    endpoint.secret = box.seal(signing.new_secret())
    endpoint.version += 1
    endpoint.updated_at, endpoint.updated_by_id = ctx.now(), actor.user_id
    ctx.emit("webhook_endpoint.updated", endpoint_id=endpoint.id)
    return endpoint_read(endpoint, box)


def delete_endpoint(ctx: Ctx, actor: Principal, endpoint_id: int) -> None:
    repo.delete_obj(ctx.session, _require(ctx, endpoint_id))
    _changed(ctx)
    ctx.emit("webhook_endpoint.deleted", endpoint_id=endpoint_id)


def send_test(ctx: Ctx, actor: Principal, endpoint_id: int) -> DeliveryRead:
    endpoint = _require(ctx, endpoint_id)
    data = {"endpoint": endpoint.name, "sent_by": actor.user_id}
    attempts = endpoint.max_attempts
    delivery_id = _enqueue(ctx, endpoint.id, attempts, "webhook.test", data, ctx.now(), None)
    return get_delivery(ctx, delivery_id)


# -- deliveries ------------------------------------------------------------------------------
def _delivery_read(d: WebhookDelivery, names: Mapping[int, str]) -> dict[str, Any]:
    fields = {k: getattr(d, k) for k in DeliveryRead.model_fields if k != "endpoint"}
    return fields | {"endpoint": names.get(d.endpoint_id, "")}


def _names(ctx: Ctx) -> dict[int, str]:
    return {e.id: e.name for e in repo.endpoints(ctx.session)}


def list_deliveries(
    ctx: Ctx, endpoint_id: int | None, status: str | None, cursor: str | None, limit: int = 50
) -> DeliveryPage:
    before = decode_id_cursor(cursor)
    rows = list(repo.deliveries(ctx.session, endpoint_id, status, before, limit + 1))
    names = _names(ctx)
    page = [DeliveryRead(**_delivery_read(d, names)) for d in rows[:limit]]
    nxt = encode_cursor([page[-1].id]) if len(rows) > limit else None
    return DeliveryPage(items=page, next_cursor=nxt)


def _require_delivery(ctx: Ctx, delivery_id: int) -> WebhookDelivery:
    delivery = repo.get_delivery(ctx.session, delivery_id)
    if delivery is None:
        raise NotFound("Webhook delivery", delivery_id)
    return delivery


def get_delivery(ctx: Ctx, delivery_id: int) -> DeliveryDetail:
    d = _require_delivery(ctx, delivery_id)
    return DeliveryDetail(**_delivery_read(d, _names(ctx)), body=d.body)


def retry_delivery(ctx: Ctx, actor: Principal, delivery_id: int) -> DeliveryDetail:
    """Send again, with a fresh round of attempts (the same webhook-id, so receivers that
    already had it can tell)."""
    d = _require_delivery(ctx, delivery_id)
    if d.outbox_id is None:
        raise NotFound("Outbox item of delivery", delivery_id)
    outbox.retry_now(ctx, d.outbox_id)
    d.status, d.attempts, d.updated_at = "queued", 0, ctx.now()
    return get_delivery(ctx, delivery_id)


@dataclass(frozen=True)
class DeliveryJob:
    delivery_id: int
    url: str
    secret: str
    allow_private: bool
    active: bool
    message_id: str
    body: str


def delivery_job(ctx: Ctx, box: SecretBox, delivery_id: int) -> DeliveryJob | None:
    d = repo.get_delivery(ctx.session, delivery_id)
    endpoint = repo.get_endpoint(ctx.session, d.endpoint_id) if d is not None else None
    if d is None or endpoint is None:
        return None
    secret = box.open(endpoint.secret)
    return DeliveryJob(
        d.id, endpoint.url, secret, endpoint.allow_private, endpoint.active, d.message_id, d.body
    )


def record_attempt(
    ctx: Ctx, delivery_id: int, response_status: int | None, error: str | None, final: bool
) -> None:
    """One attempt's outcome; ``final``: no more attempts will follow (delivered or dead)."""
    d = repo.get_delivery(ctx.session, delivery_id)
    if d is None:
        return
    endpoint = repo.get_endpoint(ctx.session, d.endpoint_id)
    d.attempts += 1
    d.response_status, d.last_error, d.updated_at = response_status, error, ctx.now()
    if error is None:
        d.status, d.delivered_at = "delivered", ctx.now()
    elif final or (endpoint is not None and d.attempts >= endpoint.max_attempts):
        d.status = "dead"
    else:
        d.status = "retrying"
    if d.status == "dead":
        _dead(ctx, d, error)


def _dead(ctx: Ctx, d: WebhookDelivery, error: str | None) -> None:
    ctx.emit(
        "webhook.dead",
        delivery_id=d.id,
        endpoint_id=d.endpoint_id,
        event_type=d.event_type,
        ticket_id=d.ticket_id,
        error=error,
    )


def mark_dead(ctx: Ctx, delivery_id: int, error: str) -> None:
    """The outbox gave up (e.g. attempts were lost to a crash): the log says so too."""
    d = repo.get_delivery(ctx.session, delivery_id)
    if d is not None and d.status not in ("delivered", "dead"):
        d.status, d.last_error, d.updated_at = "dead", error[:2000], ctx.now()
        _dead(ctx, d, error)
