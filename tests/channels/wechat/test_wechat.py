"""WeChat Official Account: documented XML messages and events through the real server
URL, plain and in safe mode (with WeChat's own WXBizMsgCrypt sample), and the API calls kefu
makes with its cached access_token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kefu.channels.base import adapter_for
from kefu.channels.wechat import crypto
from kefu.channels.wechat.adapter import TokenCache, WeChatAdapter
from kefu.events import Event
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

TOKEN = "spamtest"
APPID = "wx2c2769f8efd9abc2"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OPENID = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
API = "https://api.weixin.qq.com/cgi-bin"


@pytest.fixture(autouse=True)
def fresh_tokens() -> Iterator[None]:
    yield
    adapter = adapter_for("wechat")
    if isinstance(adapter, WeChatAdapter):
        adapter.tokens = TokenCache()


@pytest.fixture
async def account(client: httpx.AsyncClient, admin: Actor) -> dict[str, Any]:
    return await make_account(
        client,
        admin,
        "wechat",
        address="gh_10f6c3c3ac5a",
        config={"appid": APPID},
        secrets={"app_secret": "test-app-secret", "token": TOKEN, "encoding_aes_key": AES_KEY},
    )


def signed_query(timestamp: str = "1735689601", nonce: str = "1929571213") -> dict[str, str]:
    return {
        "signature": crypto.signature(TOKEN, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "openid": OPENID,
    }


async def deliver(client: httpx.AsyncClient, account: dict[str, Any], name: str) -> httpx.Response:
    return await client.post(
        account["webhook_url"],
        params=signed_query(),
        content=fixture("wechat", name),
        headers={"Content-Type": "text/xml"},
    )


def token_routes(api: Any) -> None:
    api.on(
        "GET",
        f"{API}/token",
        httpx.Response(
            200,
            content=fixture("wechat", "token.json"),
            headers={"Content-Type": "application/json"},
        ),
    )


def ok(name: str = "ok.json") -> httpx.Response:
    return httpx.Response(
        200,
        content=fixture("wechat", name),
        headers={"Content-Type": "application/json; encoding=utf-8"},
    )


async def test_server_url_check_echoes_echostr(
    client: httpx.AsyncClient, account: dict[str, Any]
) -> None:
    query = {**signed_query(), "echostr": "3542367841596523469"}
    query.pop("openid")
    response = await client.get(account["webhook_url"], params=query)
    assert (response.status_code, response.text) == (200, "3542367841596523469")
    bad = await client.get(account["webhook_url"], params={**query, "signature": "0" * 40})
    assert bad.status_code == 401


async def test_text_message_answers_success_and_opens_a_ticket(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    response = await deliver(client, account, "text.xml")
    assert (response.status_code, response.text) == (200, "success")
    [ticket] = await tickets_of(client, agent, "wechat")
    [message] = await messages(client, agent, ticket["id"])
    assert message["body_text"] == "你好，我的快递三天没动了"
    assert message["external_id"] == "24857389812345678"
    customer = await client.get(
        f"/api/v1/customers/{ticket['requester']['id']}", headers=agent.headers
    )
    assert [i["value"] for i in customer.json()["identities"] if i["kind"] == "wechat"] == [OPENID]


async def test_forged_or_malformed_requests(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    forged = {
        **signed_query(),
        "signature": crypto.signature("not-the-token", "1735689601", "1929571213"),
    }
    response = await client.post(
        account["webhook_url"], params=forged, content=fixture("wechat", "text.xml")
    )
    assert response.status_code == 401
    for body in (b"<xml><FromUserName>x", b"<html/>", b"<xml><MsgType>text</MsgType></xml>"):
        response = await client.post(account["webhook_url"], params=signed_query(), content=body)
        assert response.status_code == 400, body
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Content>&a;</Content></xml>'
    )
    response = await client.post(account["webhook_url"], params=signed_query(), content=bomb)
    assert response.status_code == 400
    assert await tickets_of(client, agent, "wechat") == []


async def test_safe_mode_with_wechats_sample(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    query = {
        "signature": crypto.signature(TOKEN, "1409735669", "1320562132"),
        "timestamp": "1409735669",
        "nonce": "1320562132",
        "openid": OPENID,
        "encrypt_type": "aes",
        "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
    }
    body = fixture("wechat", "safe_mode_text.xml")
    tampered = await client.post(
        account["webhook_url"], params={**query, "msg_signature": "1" * 40}, content=body
    )
    assert tampered.status_code == 401
    response = await client.post(account["webhook_url"], params=query, content=body)
    assert (response.status_code, response.text) == (200, "success")
    [ticket] = await tickets_of(client, agent, "wechat")
    [message] = await messages(client, agent, ticket["id"])
    assert (message["body_text"], message["external_id"]) == ("abcdteT", "6054768590064713728")


async def test_safe_mode_refuses_a_message_for_another_appid(
    client: httpx.AsyncClient, admin: Actor, agent: Actor
) -> None:
    other = await make_account(
        client,
        admin,
        "wechat",
        config={"appid": "wx0000000000000000"},
        secrets={"app_secret": "s", "token": TOKEN, "encoding_aes_key": AES_KEY},
    )
    query = {
        "signature": crypto.signature(TOKEN, "1409735669", "1320562132"),
        "timestamp": "1409735669",
        "nonce": "1320562132",
        "encrypt_type": "aes",
        "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
    }
    response = await client.post(
        other["webhook_url"], params=query, content=fixture("wechat", "safe_mode_text.xml")
    )
    assert response.status_code == 400
    assert "another AppID" in response.json()["detail"]
    assert await tickets_of(client, agent, "wechat") == []


def test_encrypt_then_decrypt_round_trip() -> None:
    message = "<xml><Content><![CDATA[中文, more than 32 bytes]]></Content></xml>".encode()
    sealed = crypto.encrypt(AES_KEY, APPID, message)
    assert crypto.decrypt(AES_KEY, APPID, sealed) == message
    with pytest.raises(ValueError):
        crypto.decrypt("B" * 43, APPID, sealed)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("location.xml", "📍 广州市天河区 (23.134521, 113.358803)"),
        ("link.xml", "订单详情\n订单 1042 的物流信息\nhttps://shop.example.com/orders/1042"),
        ("event_click.xml", "[menu: CONTACT_SUPPORT]"),
    ],
)
async def test_other_messages(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor, name: str, text: str
) -> None:
    assert (await deliver(client, account, name)).status_code == 200
    [ticket] = await tickets_of(client, agent, "wechat")
    [message] = await messages(client, agent, ticket["id"])
    assert message["body_text"] == text


async def test_unknown_type_is_kept_and_redelivery_stored_once(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    body = fixture("wechat", "text.xml").replace(b"[text]", b"[miniprogrampage]")
    for _ in range(2):  # WeChat retries when kefu is slow: the MsgId keeps it once
        response = await client.post(account["webhook_url"], params=signed_query(), content=body)
        assert response.status_code == 200
    [ticket] = await tickets_of(client, agent, "wechat")
    [message] = await messages(client, agent, ticket["id"])
    assert message["body_text"] == "[unsupported content: WeChat miniprogrampage message]"


async def test_follow_events_make_a_customer_not_a_ticket(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor, runtime: Runtime
) -> None:
    seen: list[Event] = []
    runtime.bus.subscribe("channel.contact", seen.append)
    for name in ("event_subscribe.xml", "event_unsubscribe.xml"):
        assert (await deliver(client, account, name)).status_code == 200
    await runtime.bus.drain()
    assert [e.payload["event"] for e in seen] == ["subscribe", "unsubscribe"]
    assert await tickets_of(client, agent, "wechat") == []
    found = await client.get("/api/v1/customers", params={"q": OPENID}, headers=agent.headers)
    [customer] = found.json()["items"]
    assert seen[0].payload["customer_id"] == customer["id"]


async def test_voice_and_image_media_are_fetched_with_the_access_token(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    amr = b"#!AMR\n" + b"\x3c" * 64
    with vendor_api("wechat") as api:
        token_routes(api)
        api.on(
            "GET",
            f"{API}/media/get",
            lambda r: httpx.Response(
                200,
                content=JPEG if r.url.params["media_id"].endswith("image") else amr,
                headers={
                    "Content-Type": "image/jpeg"
                    if r.url.params["media_id"].endswith("image")
                    else "audio/amr"
                },
            ),
        )
        assert (await deliver(client, account, "image.xml")).status_code == 200
        assert (await deliver(client, account, "voice.xml")).status_code == 200
    assert len(api.sent("GET", f"{API}/token")) == 1  # cached for the second download
    assert all(
        r.url.params["access_token"] == "80_kefuTestAccessTokenOne"
        for r in api.sent("GET", f"{API}/media/get")
    )
    [ticket] = await tickets_of(client, agent, "wechat")
    image, voice = await messages(client, agent, ticket["id"])
    assert [(a["filename"], a["content_type"]) for a in image["attachments"]] == [
        ("image.jpg", "image/jpeg")
    ]
    assert voice["body_text"] == "快递单号是一二三四五"
    assert [a["filename"] for a in voice["attachments"]] == ["voice.amr"]


async def _conversation(client: httpx.AsyncClient, account: dict[str, Any], agent: Actor) -> int:
    await deliver(client, account, "text.xml")
    [ticket] = await tickets_of(client, agent, "wechat")
    return int(ticket["id"])


async def test_reply_through_the_customer_service_api_with_an_image(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor, runtime: Runtime
) -> None:
    ticket_id = await _conversation(client, account, agent)
    image = await upload(client, agent, "route.png", "image/png", PNG)
    with vendor_api("wechat") as api:
        token_routes(api)
        api.on("POST", f"{API}/media/upload", ok("upload_image.json"))
        api.on("POST", f"{API}/message/custom/send", ok())
        queued = await reply(
            client, agent, ticket_id, "您好，包裹今天派送。", attachment_ids=[image]
        )
        await run_outbox(runtime)
    token, uploaded, text, picture = api.requests
    assert token.url.params == httpx.QueryParams(
        grant_type="client_credential", appid=APPID, secret="test-app-secret"
    )
    assert (
        uploaded.url.params["type"] == "image"
        and b'name="media"; filename="route.png"' in uploaded.content
    )
    assert json.loads(text.content) == {
        "touser": OPENID,
        "msgtype": "text",
        "text": {"content": "您好，包裹今天派送。"},
    }
    assert "您好".encode() in text.content  # UTF-8 as is, not \\u escapes
    assert json.loads(picture.content) == {
        "touser": OPENID,
        "msgtype": "image",
        "image": {"media_id": "X9fL0u3v_Rkq5sVmF1cUp7Hs8yT2wQeN4aZbDjK6oPiG"},
    }
    sent = await message_by_id(client, agent, ticket_id, queued["id"])
    assert sent["delivery_status"] == "sent"


async def test_stale_token_is_fetched_again_once(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor, runtime: Runtime
) -> None:
    ticket_id = await _conversation(client, account, agent)
    answers = iter([ok("error_40001.json"), ok()])
    tokens = iter([fixture("wechat", "token.json"), fixture("wechat", "token_second.json")])
    with vendor_api("wechat") as api:
        api.on(
            "GET",
            f"{API}/token",
            lambda _r: httpx.Response(
                200, content=next(tokens), headers={"Content-Type": "application/json"}
            ),
        )
        api.on("POST", f"{API}/message/custom/send", lambda _r: next(answers))
        queued = await reply(client, agent, ticket_id, "Hello")
        await run_outbox(runtime)
    sends = api.sent("POST", f"{API}/message/custom/send")
    assert [r.url.params["access_token"] for r in sends] == [
        "80_kefuTestAccessTokenOne",
        "80_kefuTestAccessTokenTwo",
    ]
    sent = await message_by_id(client, agent, ticket_id, queued["id"])
    assert sent["delivery_status"] == "sent"


async def test_closed_reply_window_fails_at_once(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor, runtime: Runtime
) -> None:
    ticket_id = await _conversation(client, account, agent)
    with vendor_api("wechat") as api:
        token_routes(api)
        api.on("POST", f"{API}/message/custom/send", ok("error_45015.json"))
        queued = await reply(client, agent, ticket_id, "Hello")
        await run_outbox(runtime)
    sent = await message_by_id(client, agent, ticket_id, queued["id"])
    assert sent["delivery_status"] == "failed"
    assert "45015" in sent["delivery_error"] and "out of time limit" in sent["delivery_error"]
