"""WhatsApp Cloud API: Meta's documented notifications replayed through the real webhook,
and the Graph API requests kefu makes checked against a mock of the Graph API."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from kefu.channels.vendor import hmac_hex
from kefu.runtime import Runtime
from tests.channels.vendor_helpers import (
    JPEG,
    PNG,
    fixture,
    fixture_json,
    make_account,
    message_by_id,
    messages,
    reply,
    run_outbox,
    tickets_of,
    upload,
    vendor_api,
)
from tests.conftest import Actor

APP_SECRET = "test-app-secret"
PHONE_ID = "106540352242922"
GRAPH = "https://graph.facebook.com/v21.0"
SENT_ID = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI0ODQ3QUQyQzE3QjM2NUM4N0IA"


@pytest.fixture
async def account(client: httpx.AsyncClient, admin: Actor) -> dict[str, Any]:
    return await make_account(
        client,
        admin,
        "whatsapp",
        address="+15550783881",
        config={"phone_number_id": PHONE_ID},
        secrets={
            "app_secret": APP_SECRET,
            "access_token": "test-access-token",
            "verify_token": "test-verify-token",
        },
    )


async def deliver(
    client: httpx.AsyncClient, account: dict[str, Any], body: bytes, secret: str = APP_SECRET
) -> httpx.Response:
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": "sha256=" + hmac_hex(secret, body),
    }
    return await client.post(account["webhook_url"], content=body, headers=headers)


async def only_ticket(client: httpx.AsyncClient, agent: Actor) -> dict[str, Any]:
    found = await tickets_of(client, agent, "whatsapp")
    assert len(found) == 1
    return found[0]


async def test_verification_challenge(client: httpx.AsyncClient, account: dict[str, Any]) -> None:
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": "test-verify-token",
        "hub.challenge": "1158201444",
    }
    response = await client.get(account["webhook_url"], params=query)
    assert response.status_code == 200
    assert response.text == "1158201444"
    wrong = await client.get(account["webhook_url"], params={**query, "hub.verify_token": "nope"})
    assert wrong.status_code == 401


async def test_text_message_opens_a_ticket_for_the_sender(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    response = await deliver(client, account, fixture("whatsapp", "text.json"))
    assert response.status_code == 200, response.text
    ticket = await only_ticket(client, agent)
    assert ticket["subject"] == "Does it come in another color?"
    assert ticket["requester"]["name"] == "Sheena Nelson"
    customer = await client.get(
        f"/api/v1/customers/{ticket['requester']['id']}", headers=agent.headers
    )
    assert {"kind": "whatsapp", "value": "+16505551234"} in [
        {"kind": i["kind"], "value": i["value"]} for i in customer.json()["identities"]
    ]
    [message] = await messages(client, agent, ticket["id"])
    assert message["body_text"] == "Does it come in another color?"
    assert (
        message["external_id"] == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="
    )


async def test_bad_signature_is_refused_and_nothing_stored(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    body = fixture("whatsapp", "text.json")
    assert (await deliver(client, account, body, secret="someone-else")).status_code == 401
    unsigned = await client.post(account["webhook_url"], content=body)
    assert unsigned.status_code == 401
    assert await tickets_of(client, agent, "whatsapp") == []


async def test_malformed_payload_is_a_400(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    assert (await deliver(client, account, b"{not json")).status_code == 400
    wrong_shape = json.dumps({"object": "whatsapp_business_account", "entry": "x"}).encode()
    assert (await deliver(client, account, wrong_shape)).status_code == 400
    assert await tickets_of(client, agent, "whatsapp") == []


async def test_redelivery_is_stored_once(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    for _ in range(3):
        assert (await deliver(client, account, fixture("whatsapp", "text.json"))).status_code == 200
    ticket = await only_ticket(client, agent)
    assert len(await messages(client, agent, ticket["id"])) == 1


async def test_follow_up_continues_the_conversation(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    await deliver(client, account, fixture("whatsapp", "text.json"))
    await deliver(client, account, fixture("whatsapp", "text_reply.json"))
    ticket = await only_ticket(client, agent)
    texts = [m["body_text"] for m in await messages(client, agent, ticket["id"])]
    assert texts == ["Does it come in another color?", "Thanks, that worked"]


async def test_image_is_downloaded_through_the_graph_api(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    lookaside = fixture_json("whatsapp", "media_lookup.json")["url"]
    with vendor_api("whatsapp") as graph:
        graph.on(
            "GET",
            f"{GRAPH}/1003383421387256",
            httpx.Response(200, content=fixture("whatsapp", "media_lookup.json")),
        )
        graph.on(
            "GET",
            lookaside,
            httpx.Response(200, content=JPEG, headers={"Content-Type": "image/jpeg"}),
        )
        assert (
            await deliver(client, account, fixture("whatsapp", "image.json"))
        ).status_code == 200
    assert [str(r.url) for r in graph.requests] == [f"{GRAPH}/1003383421387256", lookaside]
    assert all(r.headers["Authorization"] == "Bearer test-access-token" for r in graph.requests)
    ticket = await only_ticket(client, agent)
    [message] = await messages(client, agent, ticket["id"])
    assert message["body_text"] == "This is the broken part"
    [attachment] = message["attachments"]
    assert attachment["content_type"] == "image/jpeg" and attachment["size"] == len(JPEG)
    assert attachment["filename"] == "image.jpeg"


async def test_media_that_cannot_be_fetched_is_named_not_lost(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    error = {
        "error": {
            "message": "Unsupported get request.",
            "type": "GraphMethodException",
            "code": 100,
            "error_subcode": 33,
            "fbtrace_id": "Aq1x",
        }
    }
    with vendor_api("whatsapp") as graph:
        graph.on("GET", f"{GRAPH}/1219315442713045", httpx.Response(400, json=error))
        assert (
            await deliver(client, account, fixture("whatsapp", "document.json"))
        ).status_code == 200
    ticket = await only_ticket(client, agent)
    [message] = await messages(client, agent, ticket["id"])
    assert message["attachments"] == []
    assert "Invoice" in message["body_text"]
    assert "invoice-1042.pdf could not be downloaded" in message["body_text"]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "location.json",
            "📍 Philz Coffee, 1 Hacker Way, Menlo Park, CA 94025 (37.483307, -122.148981)",
        ),
        ("interactive_button_reply.json", "Change"),
        (
            "unsupported.json",
            "[unsupported content: WhatsApp unsupported message (Message type unknown)]",
        ),
    ],
)
async def test_other_message_types(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor, name: str, text: str
) -> None:
    assert (await deliver(client, account, fixture("whatsapp", name))).status_code == 200
    ticket = await only_ticket(client, agent)
    [message] = await messages(client, agent, ticket["id"])
    assert message["body_text"] == text


async def test_another_numbers_notification_is_ignored(
    client: httpx.AsyncClient, admin: Actor, agent: Actor
) -> None:
    other = await make_account(
        client,
        admin,
        "whatsapp",
        config={"phone_number_id": "999"},
        secrets={"app_secret": APP_SECRET},
    )
    assert (await deliver(client, other, fixture("whatsapp", "text.json"))).status_code == 200
    assert await tickets_of(client, agent, "whatsapp") == []


async def test_known_phone_customer_is_recognised_on_whatsapp(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    created = await client.post(
        "/api/v1/customers",
        json={"name": "Sheena N.", "identities": [{"kind": "phone", "value": "+1 650-555-1234"}]},
        headers=agent.headers,
    )
    assert created.status_code == 201, created.text
    await deliver(client, account, fixture("whatsapp", "text.json"))
    ticket = await only_ticket(client, agent)
    assert ticket["requester"]["id"] == created.json()["id"]


async def _conversation(client: httpx.AsyncClient, account: dict[str, Any], agent: Actor) -> int:
    await deliver(client, account, fixture("whatsapp", "text.json"))
    return int((await only_ticket(client, agent))["id"])


async def test_reply_goes_out_through_the_graph_api_and_tracks_delivery(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor, runtime: Runtime
) -> None:
    ticket_id = await _conversation(client, account, agent)
    with vendor_api("whatsapp") as graph:
        graph.on(
            "POST",
            f"{GRAPH}/{PHONE_ID}/messages",
            httpx.Response(200, content=fixture("whatsapp", "send_ok.json")),
        )
        queued = await reply(client, agent, ticket_id, "Yes, in blue and green.")
        assert queued["delivery_status"] == "queued" and queued["channel"] == "whatsapp"
        await run_outbox(runtime)
    [sent] = graph.requests
    assert sent.headers["Authorization"] == "Bearer test-access-token"
    assert json.loads(sent.content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "16505551234",
        "type": "text",
        "text": {"preview_url": False, "body": "Yes, in blue and green."},
    }
    status = await message_by_id(client, agent, ticket_id, queued["id"])
    assert (status["delivery_status"], status["external_id"]) == ("sent", SENT_ID)
    for name, expected in [
        ("status_delivered.json", "delivered"),
        ("status_read.json", "read"),
        ("status_sent.json", "read"),
    ]:
        assert (await deliver(client, account, fixture("whatsapp", name))).status_code == 200
        status = await message_by_id(client, agent, ticket_id, queued["id"])
        assert status["delivery_status"] == expected


async def test_failed_status_shows_the_reason(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor, runtime: Runtime
) -> None:
    ticket_id = await _conversation(client, account, agent)
    with vendor_api("whatsapp") as graph:
        graph.on(
            "POST",
            f"{GRAPH}/{PHONE_ID}/messages",
            httpx.Response(200, content=fixture("whatsapp", "send_ok.json")),
        )
        queued = await reply(client, agent, ticket_id, "Are you still there?")
        await run_outbox(runtime)
    await deliver(client, account, fixture("whatsapp", "status_failed_131047.json"))
    status = await message_by_id(client, agent, ticket_id, queued["id"])
    assert status["delivery_status"] == "failed"
    assert status["delivery_error"].startswith(
        "131047 Re-engagement message: Message failed to send"
    )


async def test_refused_send_fails_at_once_with_the_vendors_reason(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor, runtime: Runtime
) -> None:
    ticket_id = await _conversation(client, account, agent)
    with vendor_api("whatsapp") as graph:
        graph.on(
            "POST",
            f"{GRAPH}/{PHONE_ID}/messages",
            httpx.Response(400, content=fixture("whatsapp", "error_131047.json")),
        )
        queued = await reply(client, agent, ticket_id, "Hello again")
        await run_outbox(runtime)
        await run_outbox(runtime)
    assert len(graph.requests) == 1  # not retried: the window is closed
    status = await message_by_id(client, agent, ticket_id, queued["id"])
    assert status["delivery_status"] == "failed"
    assert "131047" in status["delivery_error"] and "24 hours" in status["delivery_error"]


async def test_throttled_send_is_retried(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor, runtime: Runtime
) -> None:
    ticket_id = await _conversation(client, account, agent)
    with vendor_api("whatsapp") as graph:
        graph.on(
            "POST",
            f"{GRAPH}/{PHONE_ID}/messages",
            httpx.Response(400, content=fixture("whatsapp", "error_rate_limit.json")),
        )
        queued = await reply(client, agent, ticket_id, "Hello again")
        await run_outbox(runtime)
    status = await message_by_id(client, agent, ticket_id, queued["id"])
    assert status["delivery_status"] == "queued"  # waiting for the next attempt


async def test_reply_with_files_uploads_then_sends_them(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor, runtime: Runtime
) -> None:
    ticket_id = await _conversation(client, account, agent)
    image = await upload(client, agent, "colors.png", "image/png", PNG)
    with vendor_api("whatsapp") as graph:
        graph.on(
            "POST",
            f"{GRAPH}/{PHONE_ID}/media",
            httpx.Response(200, content=fixture("whatsapp", "media_upload.json")),
        )
        graph.on(
            "POST",
            f"{GRAPH}/{PHONE_ID}/messages",
            httpx.Response(200, content=fixture("whatsapp", "send_ok.json")),
        )
        await reply(client, agent, ticket_id, "Here they are", attachment_ids=[image])
        await run_outbox(runtime)
    upload_request, text_request, image_request = graph.requests
    assert str(upload_request.url) == f"{GRAPH}/{PHONE_ID}/media"
    assert b'name="messaging_product"' in upload_request.content and PNG in upload_request.content
    assert json.loads(text_request.content)["text"]["body"] == "Here they are"
    assert json.loads(image_request.content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "16505551234",
        "type": "image",
        "image": {"id": "1037543291543636"},
    }
