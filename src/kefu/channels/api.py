"""JSON routes of channel accounts, and the one webhook entry point of every channel."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from kefu.channels import delivery, service
from kefu.channels.base import WebhookRequest, adapter_for
from kefu.channels.schemas import ChannelAccountCreate, ChannelAccountRead, ChannelAccountUpdate
from kefu.kit.errors import DomainError, NotFound, Unauthorized
from kefu.security.deps import RuntimeDep, require
from kefu.security.permissions import Action, Principal

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["channels"])
Reader = Annotated[Principal, Depends(require(Action.channel_read))]
Writer = Annotated[Principal, Depends(require(Action.channel_write))]


@router.get("/channel-accounts")
async def list_accounts(
    principal: Reader, runtime: RuntimeDep, kind: str | None = None
) -> list[ChannelAccountRead]:
    return await runtime.db.read(service.list_accounts, delivery.secret_box(runtime), kind)


@router.post("/channel-accounts", status_code=201)
async def create_account(
    data: ChannelAccountCreate, principal: Writer, runtime: RuntimeDep
) -> ChannelAccountRead:
    return await runtime.db.write(service.create_account, delivery.secret_box(runtime), data)


@router.get("/channel-accounts/{account_id}")
async def get_account(
    account_id: int, principal: Reader, runtime: RuntimeDep
) -> ChannelAccountRead:
    return await runtime.db.read(service.get_account, delivery.secret_box(runtime), account_id)


@router.patch("/channel-accounts/{account_id}")
async def update_account(
    account_id: int, data: ChannelAccountUpdate, principal: Writer, runtime: RuntimeDep
) -> ChannelAccountRead:
    return await runtime.db.write(
        service.update_account, delivery.secret_box(runtime), account_id, data
    )


@router.delete("/channel-accounts/{account_id}", status_code=204)
async def delete_account(account_id: int, principal: Writer, runtime: RuntimeDep) -> Response:
    await runtime.db.write(service.delete_account, account_id)
    return Response(status_code=204)


@router.get("/channels/{kind}/{account_id}/webhook", tags=["webhooks"])
async def webhook_challenge(
    kind: str, account_id: int, request: Request, runtime: RuntimeDep
) -> Response:
    """Where a vendor checks the webhook (WhatsApp and WeChat verification challenges)."""
    return await webhook(kind, account_id, request, runtime)


@router.post("/channels/{kind}/{account_id}/webhook", tags=["webhooks"])
async def webhook(kind: str, account_id: int, request: Request, runtime: RuntimeDep) -> Response:
    """Where a vendor delivers messages and status updates for one channel account. The
    request must carry the vendor's signature: a bad one gets 401 and stores nothing."""
    adapter = adapter_for(kind)
    account = await runtime.db.read(
        service.account_config, delivery.secret_box(runtime), account_id
    )
    if adapter is None or account.kind != kind or not account.active:
        raise NotFound("Channel account", f"{kind}/{account_id}")
    incoming = WebhookRequest(
        method=request.method,
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
        body=await request.body(),
        url=str(request.url),
    )
    if not adapter.verify(incoming, account.settings):
        raise Unauthorized("The webhook signature does not match")
    try:
        items, reply = adapter.parse_inbound(incoming, account.settings)
    except ValueError as exc:
        log.warning("malformed %s webhook for account %s: %s", kind, account_id, exc)
        raise DomainError(f"Malformed {kind} payload: {exc}", 400, "Bad request") from exc
    await delivery.receive(runtime, kind, items, account_id)
    return Response(reply.body, reply.status, media_type=reply.content_type)
