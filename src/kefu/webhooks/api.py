"""JSON routes of outbound webhooks (admins only): endpoints, their secrets, the delivery
log and its retry button, a test ping, and the events one can subscribe to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from kefu.security.deps import RuntimeDep, require
from kefu.security.permissions import Action, Principal
from kefu.webhooks import service
from kefu.webhooks.delivery import secret_box
from kefu.webhooks.schemas import (
    DeliveryDetail,
    DeliveryPage,
    DeliveryRead,
    EndpointIn,
    EndpointList,
    EndpointRead,
)

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
Admin = Annotated[Principal, Depends(require(Action.webhook_admin))]


@router.get("")
async def list_endpoints(principal: Admin, runtime: RuntimeDep) -> EndpointList:
    return await runtime.db.read(service.list_endpoints, secret_box(runtime))


@router.post("", status_code=201)
async def create_endpoint(
    data: EndpointIn, principal: Admin, runtime: RuntimeDep, response: Response
) -> EndpointRead:
    """Subscribe a URL to event types. The answer carries the signing secret (whsec_...)."""
    box = secret_box(runtime)
    endpoint = await runtime.db.write(service.create_endpoint, principal, box, data)
    response.headers["Location"] = f"/api/v1/webhooks/{endpoint.id}"
    return endpoint


@router.get("/events")
async def events(principal: Admin) -> list[str]:
    """Event types an endpoint may subscribe to (patterns such as ticket.* work too)."""
    return list(service.CATALOGUE)


@router.get("/deliveries")
async def deliveries(
    principal: Admin,
    runtime: RuntimeDep,
    endpoint_id: int | None = None,
    status: str | None = None,
    cursor: str | None = None,
) -> DeliveryPage:
    """The delivery log, newest first: status, attempts, last error."""
    return await runtime.db.read(service.list_deliveries, endpoint_id, status, cursor)


@router.get("/deliveries/{delivery_id}")
async def delivery(delivery_id: int, principal: Admin, runtime: RuntimeDep) -> DeliveryDetail:
    return await runtime.db.read(service.get_delivery, delivery_id)


@router.post("/deliveries/{delivery_id}/retry")
async def retry(delivery_id: int, principal: Admin, runtime: RuntimeDep) -> DeliveryDetail:
    """Send a failed or dead delivery again, with a fresh round of attempts."""
    return await runtime.db.write(service.retry_delivery, principal, delivery_id)


@router.get("/{endpoint_id}")
async def get_endpoint(endpoint_id: int, principal: Admin, runtime: RuntimeDep) -> EndpointRead:
    return await runtime.db.read(service.get_endpoint, secret_box(runtime), endpoint_id)


@router.put("/{endpoint_id}")
async def update_endpoint(
    endpoint_id: int, data: EndpointIn, principal: Admin, runtime: RuntimeDep
) -> EndpointRead:
    box = secret_box(runtime)
    return await runtime.db.write(service.update_endpoint, principal, box, endpoint_id, data)


@router.post("/{endpoint_id}/rotate-secret")
async def rotate_secret(endpoint_id: int, principal: Admin, runtime: RuntimeDep) -> EndpointRead:
    box = secret_box(runtime)
    return await runtime.db.write(service.rotate_secret, principal, box, endpoint_id)


@router.post("/{endpoint_id}/test", status_code=202)
async def send_test(endpoint_id: int, principal: Admin, runtime: RuntimeDep) -> DeliveryRead:
    """Queue a ``webhook.test`` message to the endpoint."""
    return await runtime.db.write(service.send_test, principal, endpoint_id)


@router.delete("/{endpoint_id}", status_code=204)
async def delete_endpoint(endpoint_id: int, principal: Admin, runtime: RuntimeDep) -> Response:
    await runtime.db.write(service.delete_endpoint, principal, endpoint_id)
    return Response(status_code=204)
