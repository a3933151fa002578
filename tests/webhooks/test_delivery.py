"""Outbound webhooks to a real receiver on loopback (allowed explicitly for the endpoint):
signed per Standard Webhooks (checked with the reference library), retried with back-off,
dead after the endpoint's attempts, sent again from the log; the SSRF guard refuses
loopback when nobody allowed it."""

from __future__ import annotations

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from kefu.kit.time import FrozenClock
from kefu.outbox.service import MAX_DELAY_S
from tests.conftest import Actor, ticket_body
from tests.webhooks.conftest import Hooks, Receiver


async def _ticket(hooks: Hooks, actor: Actor, **overrides: object) -> int:
    response = await hooks.client.post(
        "/api/v1/tickets", json=ticket_body(**overrides), headers=actor.headers
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def test_a_subscribed_event_arrives_signed(
    hooks: Hooks, receiver: Receiver, admin: Actor
) -> None:
    endpoint = await hooks.endpoint(url=receiver.url, allow_private=True)
    assert endpoint["secret"].startswith("whsec_")
    ticket_id = await _ticket(hooks, admin)
    await hooks.deliver()

    assert len(receiver.received) == 1
    got = receiver.received[0]
    payload = Webhook(endpoint["secret"]).verify(got.body, got.headers)
    assert payload["type"] == "ticket.created" and payload["data"]["ticket_id"] == ticket_id
    assert got.headers["webhook-id"].startswith("msg_")
    assert got.headers["webhook-signature"].startswith("v1,")
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}"
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint["secret"]).verify(got.body.replace("ticket", "tikket"), got.headers)
    [entry] = await hooks.log()
    assert entry["status"] == "delivered" and entry["attempts"] == 1
    assert entry["response_status"] == 200 and entry["ticket_id"] == ticket_id


async def test_failures_are_retried_with_back_off_then_dead_then_sent_again(
    hooks: Hooks, receiver: Receiver, admin: Actor, clock: FrozenClock
) -> None:
    endpoint = await hooks.endpoint(url=receiver.url, allow_private=True, max_attempts=3)
    receiver.statuses = [500, 503, 500]
    await _ticket(hooks, admin)
    await hooks.deliver()
    [entry] = await hooks.log()
    assert (entry["status"], entry["attempts"], entry["last_error"]) == (
        "retrying",
        1,
        "HTTP 500: ok",
    )
    await hooks.deliver()  # not due yet: the back-off holds it
    assert len(receiver.received) == 1
    for _ in range(2):
        clock.advance(seconds=MAX_DELAY_S)
        await hooks.deliver()
    [entry] = await hooks.log()
    assert (entry["status"], entry["attempts"]) == ("dead", 3)
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # one message
    assert await hooks.log(status="dead") == [entry]

    retried = await hooks.client.post(
        f"/api/v1/webhooks/deliveries/{entry['id']}/retry", headers=hooks.admin.headers
    )
    assert retried.json()["status"] == "queued"
    await hooks.deliver()
    [entry] = await hooks.log()
    assert entry["status"] == "delivered" and len(receiver.received) == 4
    Webhook(endpoint["secret"]).verify(receiver.received[-1].body, receiver.received[-1].headers)


async def test_loopback_is_refused_unless_an_admin_allowed_it(
    hooks: Hooks, receiver: Receiver, admin: Actor
) -> None:
    await hooks.endpoint(url=receiver.url.replace("127.0.0.1", "localhost"))
    await _ticket(hooks, admin)
    await hooks.deliver()
    assert receiver.received == []
    [entry] = await hooks.log()
    assert entry["status"] == "dead" and entry["attempts"] == 1
    assert "not a public address" in entry["last_error"]


async def test_a_change_that_rolls_back_sends_nothing(
    hooks: Hooks, receiver: Receiver, admin: Actor
) -> None:
    await hooks.endpoint(url=receiver.url, allow_private=True)
    refused = await hooks.client.post(
        "/api/v1/tickets", json=ticket_body(priority="sky-high"), headers=admin.headers
    )
    assert refused.status_code == 422
    await hooks.deliver()
    assert receiver.received == [] and await hooks.log() == []


async def test_a_rule_calls_a_webhook_with_the_ticket(
    hooks: Hooks, receiver: Receiver, admin: Actor
) -> None:
    endpoint = await hooks.endpoint(
        name="escalations", url=receiver.url, allow_private=True, event_types=[]
    )
    response = await hooks.client.post(
        "/api/v1/rules",
        json={
            "name": "Tell the escalation desk",
            "trigger": ["ticket.created"],
            "conditions": {"all": [{"field": "ticket.priority", "op": "is", "value": "urgent"}]},
            "actions": [{"type": "webhook", "webhook": "escalations"}],
        },
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    ticket_id = await _ticket(hooks, admin, priority="urgent")
    await _ticket(hooks, admin, priority="low")
    from kefu.rules import tasks as rules_tasks

    await rules_tasks.run_queued(hooks.runtime)
    await hooks.deliver()
    assert len(receiver.received) == 1
    payload = Webhook(endpoint["secret"]).verify(
        receiver.received[0].body, receiver.received[0].headers
    )
    assert payload["type"] == "rule.webhook"
    assert payload["data"]["rule"] == "Tell the escalation desk"
    assert payload["data"]["ticket"]["id"] == ticket_id


async def test_a_test_ping_and_a_rotated_secret(hooks: Hooks, receiver: Receiver) -> None:
    endpoint = await hooks.endpoint(url=receiver.url, allow_private=True)
    rotated = await hooks.client.post(
        f"/api/v1/webhooks/{endpoint['id']}/rotate-secret", headers=hooks.admin.headers
    )
    secret = rotated.json()["secret"]
    assert secret != endpoint["secret"]
    ping = await hooks.client.post(
        f"/api/v1/webhooks/{endpoint['id']}/test", headers=hooks.admin.headers
    )
    assert ping.status_code == 202
    await hooks.deliver()
    got = receiver.received[0]
    assert Webhook(secret).verify(got.body, got.headers)["type"] == "webhook.test"


async def test_an_endpoint_deleted_elsewhere_never_fails_a_change(
    hooks: Hooks, receiver: Receiver, admin: Actor
) -> None:
    """Another process deletes the endpoint: this one's subscriptions, cached for a second,
    still name it; the ticket is saved all the same and nothing is queued for it."""
    from kefu.webhooks import repository

    endpoint = await hooks.endpoint(url=receiver.url, allow_private=True)
    await _ticket(hooks, admin)  # the subscriptions are now cached

    def delete_behind_the_cache(ctx: object) -> None:
        session = ctx.session  # type: ignore[attr-defined]
        repository.delete_obj(session, repository.get_endpoint(session, endpoint["id"]))

    hooks.runtime.db.run_write(delete_behind_the_cache)
    await _ticket(hooks, admin)
    assert await hooks.log() == []  # the first delivery went with its endpoint
