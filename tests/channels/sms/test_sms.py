"""SMS through a Twilio-style API: Twilio's documented webhook parameters through the real
endpoint, signed as Twilio signs them, and the REST requests kefu makes."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import pytest

from kefu.channels.base import WebhookRequest
from kefu.channels.sms.adapter import SmsAdapter
from kefu.channels.vendor import hmac_b64
from kefu.runtime import Runtime
from tests.channels.vendor_helpers import (
    JPEG,
    fixture_json,
    make_account,
    message_by_id,
    messages,
    reply,
    run_outbox,
    tickets_of,
    vendor_api,
)
from tests.conftest import Actor

TOKEN = "test-auth-token"
SID = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
API = f"https://api.twilio.com/2010-04-01/Accounts/{SID}"


def test_signature_matches_twilios_documented_example() -> None:
    adapter = SmsAdapter()
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    request = WebhookRequest(
        method="POST",
        headers={"x-twilio-signature": "0/KCTR6DLpKmkAf8muzZqo1nDgQ="},
        query={},
        body=urlencode(params).encode(),
        url="https://mycompany.com/myapp.php?foo=1&bar=2",
    )
    assert adapter.verify(request, {"auth_token": "12345"})
    assert not adapter.verify(request, {"auth_token": "54321"})


@pytest.fixture
async def account(client: httpx.AsyncClient, admin: Actor) -> dict[str, Any]:
    return await make_account(
        client,
        admin,
        "sms",
        address="+14155552671",
        config={"account_sid": SID},
        secrets={"auth_token": TOKEN},
    )


def signed(url: str, params: dict[str, str], token: str = TOKEN) -> dict[str, str]:
    payload = "".join(k + v for k, v in sorted(params.items()))
    return {
        "X-Twilio-Signature": hmac_b64(token, (url + payload).encode()),
        "Content-Type": "application/x-www-form-urlencoded",
    }


async def deliver(
    client: httpx.AsyncClient, account: dict[str, Any], name: str, token: str = TOKEN
) -> httpx.Response:
    params = fixture_json("sms", name)
    url = "http://kefu.test" + account["webhook_url"]
    return await client.post(url, content=urlencode(params), headers=signed(url, params, token))


async def test_inbound_sms_opens_a_ticket_and_answers_empty_twiml(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    response = await deliver(client, account, "inbound_sms.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert b"<Response></Response>" in response.content
    [ticket] = await tickets_of(client, agent, "sms")
    [message] = await messages(client, agent, ticket["id"])
    assert message["body_text"] == "Hi, my router keeps rebooting. Ticket?"
    customer = await client.get(
        f"/api/v1/customers/{ticket['requester']['id']}", headers=agent.headers
    )
    assert customer.json()["phone"] == "+12125551234"


async def test_bad_signature_stores_nothing(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    assert (await deliver(client, account, "inbound_sms.json", token="wrong")).status_code == 401
    params = fixture_json("sms", "inbound_sms.json")
    tampered = {**params, "Body": "changed on the way"}
    url = "http://kefu.test" + account["webhook_url"]
    response = await client.post(url, content=urlencode(tampered), headers=signed(url, params))
    assert response.status_code == 401
    assert await tickets_of(client, agent, "sms") == []


async def test_malformed_and_duplicate(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    url = "http://kefu.test" + account["webhook_url"]
    no_sid = {"From": "+12125551234", "Body": "hi"}
    response = await client.post(url, content=urlencode(no_sid), headers=signed(url, no_sid))
    assert response.status_code == 400
    for _ in range(2):
        assert (await deliver(client, account, "inbound_sms.json")).status_code == 200
    [ticket] = await tickets_of(client, agent, "sms")
    assert len(await messages(client, agent, ticket["id"])) == 1


async def test_mms_media_is_fetched_with_the_account_credentials(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor
) -> None:
    media_url = fixture_json("sms", "inbound_mms.json")["MediaUrl0"]
    with vendor_api("sms") as twilio:
        twilio.on(
            "GET",
            media_url,
            httpx.Response(
                307,
                headers={
                    "Location": "https://s3-external-1.amazonaws.com/media.twiliocdn.com/ME0d1c"
                },
            ),
        )
        twilio.on(
            "GET",
            "https://s3-external-1.amazonaws.com/",
            httpx.Response(200, content=JPEG, headers={"Content-Type": "image/jpeg"}),
        )
        assert (await deliver(client, account, "inbound_mms.json")).status_code == 200
    first = twilio.requests[0]
    assert str(first.url) == media_url
    assert first.headers["Authorization"] == httpx.BasicAuth(SID, TOKEN)._auth_header
    [ticket] = await tickets_of(client, agent, "sms")
    [message] = await messages(client, agent, ticket["id"])
    assert message["body_text"] == "Here is the error light"
    assert [(a["filename"], a["content_type"]) for a in message["attachments"]] == [
        ("media-1.jpeg", "image/jpeg")
    ]


async def _conversation(client: httpx.AsyncClient, account: dict[str, Any], agent: Actor) -> int:
    await deliver(client, account, "inbound_sms.json")
    [ticket] = await tickets_of(client, agent, "sms")
    return int(ticket["id"])


async def test_reply_is_sent_through_the_rest_api_and_tracked(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor, runtime: Runtime
) -> None:
    ticket_id = await _conversation(client, account, agent)
    with vendor_api("sms") as twilio:
        twilio.on(
            "POST",
            f"{API}/Messages.json",
            httpx.Response(201, json=fixture_json("sms", "send_ok.json")),
        )
        queued = await reply(client, agent, ticket_id, "We are on it.")
        await run_outbox(runtime)
    [sent] = twilio.requests
    assert sent.headers["Authorization"] == httpx.BasicAuth(SID, TOKEN)._auth_header
    assert parse_qs(sent.content.decode()) == {
        "To": ["+12125551234"],
        "Body": ["We are on it."],
        "From": ["+14155552671"],
    }
    for name, expected in [("status_sent.json", "sent"), ("status_delivered.json", "delivered")]:
        assert (await deliver(client, account, name)).status_code == 200
        status = await message_by_id(client, agent, ticket_id, queued["id"])
        assert (status["delivery_status"], status["external_id"]) == (
            expected,
            "SM1f0e1d2c3b4a59687766554433221100",
        )


async def test_undelivered_status_shows_the_carrier_error(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor, runtime: Runtime
) -> None:
    ticket_id = await _conversation(client, account, agent)
    with vendor_api("sms") as twilio:
        twilio.on(
            "POST",
            f"{API}/Messages.json",
            httpx.Response(201, json=fixture_json("sms", "send_ok.json")),
        )
        queued = await reply(client, agent, ticket_id, "We are on it.")
        await run_outbox(runtime)
    await deliver(client, account, "status_undelivered.json")
    status = await message_by_id(client, agent, ticket_id, queued["id"])
    assert status["delivery_status"] == "failed"
    assert status["delivery_error"] == "undelivered: error 30003 unreachable destination handset"


async def test_unsubscribed_recipient_fails_at_once_and_throttling_retries(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor, runtime: Runtime
) -> None:
    ticket_id = await _conversation(client, account, agent)
    with vendor_api("sms") as twilio:
        twilio.on(
            "POST",
            f"{API}/Messages.json",
            httpx.Response(400, json=fixture_json("sms", "error_21610.json")),
        )
        stopped = await reply(client, agent, ticket_id, "Hello?")
        await run_outbox(runtime)
        twilio.on(
            "POST",
            f"{API}/Messages.json",
            httpx.Response(429, json=fixture_json("sms", "error_20429.json")),
        )
        throttled = await reply(client, agent, ticket_id, "Hello again?")
        await run_outbox(runtime)
    by_id = {m["id"]: m for m in await messages(client, agent, ticket_id)}
    assert by_id[stopped["id"]]["delivery_status"] == "failed"
    assert "21610" in by_id[stopped["id"]]["delivery_error"]
    assert by_id[throttled["id"]]["delivery_status"] == "queued"


async def test_public_url_is_signed_and_asked_for_status_callbacks(
    client: httpx.AsyncClient, account: dict[str, Any], agent: Actor, runtime: Runtime
) -> None:
    runtime.settings.base_url = "https://help.example.com"
    public = "https://help.example.com" + account["webhook_url"]
    params = fixture_json("sms", "inbound_sms.json")
    response = await client.post(
        account["webhook_url"], content=urlencode(params), headers=signed(public, params)
    )
    assert response.status_code == 200
    [ticket] = await tickets_of(client, agent, "sms")
    with vendor_api("sms") as twilio:
        twilio.on(
            "POST",
            f"{API}/Messages.json",
            httpx.Response(201, json=fixture_json("sms", "send_ok.json")),
        )
        await reply(client, agent, ticket["id"], "We are on it.")
        await run_outbox(runtime)
    assert parse_qs(twilio.requests[0].content.decode())["StatusCallback"] == [public]
