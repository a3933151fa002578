"""The outbox handler of ``webhook.deliver``: one attempt of one delivery.

The body stored with the delivery is sent as is, signed afresh for this attempt (the
``webhook-timestamp`` is the sending time by the wall clock, which receivers compare with
theirs). A 2xx answer delivers it; anything else (an error status, a timeout, a refused
connection) is written on the delivery and raised, so the outbox retries with back-off.
A 410 Gone, a refused address (SSRF guard) or a switched-off endpoint end it at once.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx

from kefu import __version__
from kefu.events import Event
from kefu.kit.crypto import SecretBox
from kefu.outbox.service import PermanentFailure
from kefu.webhooks import guard, service, signing

if TYPE_CHECKING:
    from kefu.runtime import Runtime

TIMEOUT_S = 10.0
MAX_ERROR_BODY = 300


class DeliveryFailed(Exception):
    pass


def secret_box(runtime: Runtime) -> SecretBox:
    return SecretBox(runtime.secret_key)


async def deliver(runtime: Runtime, payload: dict[str, Any]) -> dict[str, Any] | None:
    delivery_id = int(payload["delivery_id"])
    job = await runtime.db.read(service.delivery_job, secret_box(runtime), delivery_id)
    if job is None:
        return {"skipped": "the delivery or its endpoint was deleted"}
    if not job.active:
        return await _fail(runtime, delivery_id, None, "the endpoint is switched off", final=True)
    try:
        target = await guard.resolve(job.url, job.allow_private)
        status, text = await _post(job, target)
    except guard.Refused as exc:
        return await _fail(runtime, delivery_id, None, f"refused: {exc}", final=True)
    except (guard.Unresolved, httpx.HTTPError) as exc:
        return await _fail(runtime, delivery_id, None, f"{type(exc).__name__}: {exc}")
    if 200 <= status < 300:
        await runtime.db.write(service.record_attempt, delivery_id, status, None, True)
        return {"status": status}
    error = f"HTTP {status}" + (f": {text}" if text else "")
    return await _fail(runtime, delivery_id, status, error, final=status == 410)


async def _post(job: service.DeliveryJob, target: guard.Target) -> tuple[int, str]:
    timestamp = int(time.time())
    headers = signing.headers(job.secret, job.message_id, timestamp, job.body)
    headers |= target.headers | {
        "content-type": "application/json",
        "user-agent": f"kefu-webhooks/{__version__}",
    }
    async with httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False, trust_env=False) as c:
        response = await c.post(
            target.url, content=job.body.encode(), headers=headers, extensions=target.extensions
        )
    return response.status_code, response.text[:MAX_ERROR_BODY].strip()


async def _fail(
    runtime: Runtime, delivery_id: int, status: int | None, error: str, final: bool = False
) -> dict[str, Any]:
    await runtime.db.write(service.record_attempt, delivery_id, status, error, final)
    if final:
        raise PermanentFailure(error)
    raise DeliveryFailed(error)


def on_outbox_dead(runtime: Runtime) -> Any:
    async def handler(event: Event) -> None:
        if event.payload.get("kind") != service.DELIVER_KIND:
            return
        delivery_id = int(event.payload["payload"]["delivery_id"])
        error = str(event.payload.get("error") or "gave up")
        await runtime.db.write(service.mark_dead, delivery_id, error)

    return handler
