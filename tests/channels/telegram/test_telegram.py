"""Telegram Bot API: documented Update objects through the real webhook; the bot methods
kefu calls checked against a mock of api.telegram.org."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from kefu.runtime import Runtime
from tests.channels.vendor_helpers import (
    JPEG,
    PNG,
    fixture,
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

SECRET = "test-webhook-secret"
BOT = "https://api.telegram.org/bot123456:TEST-token"


@pytest.fixture
async def account(client: httpx.AsyncClient, admin: Actor) -> dict[str, Any]:
    return await make_account(
        client,
        admin,
        "telegram",
        address="acme_support_bot",
        secrets={"bot_token": "123456:TEST-token", "secret_token": SECRET},
    )


async def deliver(
    client: httpx.AsyncClient, account: dict[str, Any], name: str, secret: str = SECRET
) -> httpx.Response:
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret}
    return await client.post(
        account["webhook_url"], content=fixture("telegram", name), headers=headers
    )


async def only_ticket(client: httpx.AsyncClient, agent: Actor) -> dict[str, Any]:
    [ticket] = await tickets_of(client, agent, "telegram")
    return ticket


async def test_text_message_opens_a_ticket(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    response = await deliver(client, account, "text.json")
    assert response.status_code == 200, response.text
    ticket = await only_ticket(client, agent)
    assert ticket["subject"] == "我的订单还没有到"
    assert ticket["requester"]["name"] == "Wei Zhang"
    assert ticket["language"] == "zh_CN"
    [message] = await messages(client, agent, ticket["id"])
    assert message["external_id"] == "123456789:1365"


async def test_wrong_or_missing_secret_is_refused(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    assert (await deliver(client, account, "text.json", secret="guess")).status_code == 401
    plain = await client.post(account["webhook_url"], content=fixture("telegram", "text.json"))
    assert plain.status_code == 401
    assert await tickets_of(client, agent, "telegram") == []


async def test_malformed_update_is_a_400(
    client: httpx.AsyncClient, account: dict[str, Any]
) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    for body in (b"[1, 2", b'{"message": {}}', b'{"update_id": 5, "message": {"text": "x"}}'):
        response = await client.post(account["webhook_url"], content=body, headers=headers)
        assert response.status_code == 400, body


async def test_redelivered_update_is_stored_once_and_replies_thread(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    for name in ("text.json", "text.json", "reply.json", "edited_message.json"):
        assert (await deliver(client, account, name)).status_code == 200
    ticket = await only_ticket(client, agent)
    texts = [m["body_text"] for m in await messages(client, agent, ticket["id"])]
    assert texts == ["我的订单还没有到", "Order 1042", "[edited] 我的订单 1042 还没有到"]


async def test_photo_is_fetched_with_get_file(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    with vendor_api("telegram") as api:
        api.on(
            "GET",
            f"{BOT}/getFile",
            httpx.Response(200, content=fixture("telegram", "getfile_photo.json")),
        )
        api.on(
            "GET",
            "https://api.telegram.org/file/bot123456:TEST-token/photos/file_12.jpg",
            httpx.Response(200, content=JPEG),
        )
        assert (await deliver(client, account, "photo.json")).status_code == 200
    get_file, blob = api.requests
    assert get_file.url.params["file_id"] == "AgACAgIAAxkBAAIBP2Zf-large"  # the largest size
    assert str(blob.url).endswith("/photos/file_12.jpg")
    [message] = await messages(client, agent, (await only_ticket(client, agent))["id"])
    assert message["body_text"] == "The box was damaged"
    [photo] = message["attachments"]
    assert (photo["filename"], photo["content_type"], photo["size"]) == (
        "photo.jpg",
        "image/jpeg",
        len(JPEG),
    )


async def test_document_and_voice(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    ogg = b"OggS\x00\x02" + b"\x00" * 40
    with vendor_api("telegram") as api:
        api.on(
            "GET",
            f"{BOT}/getFile",
            lambda r: httpx.Response(
                200,
                json={
                    "ok": True,
                    "result": {
                        "file_id": r.url.params["file_id"],
                        "file_path": "documents/" + r.url.params["file_id"],
                    },
                },
            ),
        )
        api.on(
            "GET",
            "https://api.telegram.org/file/bot123456:TEST-token/documents/BQ",
            httpx.Response(200, content=pdf),
        )
        api.on(
            "GET",
            "https://api.telegram.org/file/bot123456:TEST-token/documents/Aw",
            httpx.Response(200, content=ogg),
        )
        assert (await deliver(client, account, "document.json")).status_code == 200
        assert (await deliver(client, account, "voice.json")).status_code == 200
    first, second = await messages(client, agent, (await only_ticket(client, agent))["id"])
    assert [(a["filename"], a["content_type"]) for a in first["attachments"]] == [
        ("receipt.pdf", "application/pdf")
    ]
    assert [(a["filename"], a["content_type"]) for a in second["attachments"]] == [
        ("voice.ogg", "audio/ogg")
    ]


async def test_button_press_is_acknowledged_and_kept(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    response = await deliver(client, account, "callback_query.json")
    assert response.status_code == 200
    assert response.json() == {
        "method": "answerCallbackQuery",
        "callback_query_id": "4382bfdwdsb323b2d9",
    }
    [message] = await messages(client, agent, (await only_ticket(client, agent))["id"])
    assert message["body_text"] == "No, talk to a person"


async def test_unsupported_kept_and_group_chats_skipped(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    assert (await deliver(client, account, "group_message.json")).status_code == 200
    assert await tickets_of(client, agent, "telegram") == []
    assert (await deliver(client, account, "sticker.json")).status_code == 200
    [message] = await messages(client, agent, (await only_ticket(client, agent))["id"])
    assert message["body_text"] == "[unsupported content: Telegram sticker message]"


async def _conversation(client: httpx.AsyncClient, account: dict[str, Any], agent: Actor) -> int:
    await deliver(client, account, "text.json")
    return int((await only_ticket(client, agent))["id"])


async def test_reply_with_text_and_photo(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor, runtime: Runtime
) -> None:
    ticket_id = await _conversation(client, account, agent)
    image = await upload(client, agent, "label.png", "image/png", PNG)
    with vendor_api("telegram") as api:
        api.on(
            "POST",
            f"{BOT}/sendMessage",
            httpx.Response(200, content=fixture("telegram", "send_message_ok.json")),
        )
        api.on(
            "POST",
            f"{BOT}/sendPhoto",
            httpx.Response(200, content=fixture("telegram", "send_photo_ok.json")),
        )
        queued = await reply(
            client, agent, ticket_id, "Sorry about that. It ships today.", attachment_ids=[image]
        )
        await run_outbox(runtime)
    text, photo = api.requests
    assert json.loads(text.content) == {
        "chat_id": "123456789",
        "text": "Sorry about that. It ships today.",
    }
    assert b'name="chat_id"\r\n\r\n123456789' in photo.content
    assert b'name="photo"; filename="label.png"' in photo.content and PNG in photo.content
    sent = await message_by_id(client, agent, ticket_id, queued["id"])
    assert (sent["delivery_status"], sent["external_id"]) == ("sent", "123456789:1373")


async def test_blocked_bot_fails_at_once(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor, runtime: Runtime
) -> None:
    ticket_id = await _conversation(client, account, agent)
    with vendor_api("telegram") as api:
        api.on(
            "POST",
            f"{BOT}/sendMessage",
            httpx.Response(403, content=fixture("telegram", "error_blocked.json")),
        )
        queued = await reply(client, agent, ticket_id, "Hello?")
        await run_outbox(runtime)
    sent = await message_by_id(client, agent, ticket_id, queued["id"])
    assert sent["delivery_status"] == "failed"
    assert "bot was blocked by the user" in sent["delivery_error"]


async def test_flood_limit_is_retried(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor, runtime: Runtime
) -> None:
    ticket_id = await _conversation(client, account, agent)
    with vendor_api("telegram") as api:
        api.on(
            "POST",
            f"{BOT}/sendMessage",
            httpx.Response(429, content=fixture("telegram", "error_too_many.json")),
        )
        queued = await reply(client, agent, ticket_id, "Hello?")
        await run_outbox(runtime)
    sent = await message_by_id(client, agent, ticket_id, queued["id"])
    assert sent["delivery_status"] == "queued"
