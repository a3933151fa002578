"""The SSRF guard and the signature on their own, and endpoint validation through the API."""

from __future__ import annotations

import ipaddress

import pytest
from standardwebhooks.webhooks import Webhook

from kefu.webhooks import guard, signing
from tests.conftest import Actor
from tests.webhooks.conftest import Hooks


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # shared address space (carrier NAT)
        ("0.0.0.0", False),  # noqa: S104 - an address under test, not a bind
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
    ],
)
def test_only_public_addresses_pass(address: str, public: bool) -> None:
    assert guard.is_public(ipaddress.ip_address(address)) is public


async def test_a_name_is_resolved_checked_and_pinned() -> None:
    with pytest.raises(guard.Refused, match=r"127\.0\.0\.1"):
        await guard.resolve("http://localhost:9119/x?y=1", allow_private=False)
    target = await guard.resolve("https://localhost:9119/x?y=1", allow_private=True)
    assert target.url in ("https://127.0.0.1:9119/x?y=1", "https://[::1]:9119/x?y=1")
    assert target.headers == {"host": "localhost:9119"}
    assert target.extensions == {"sni_hostname": "localhost"}
    with pytest.raises(guard.Unresolved):
        await guard.resolve("http://no-such-host.invalid/", allow_private=False)


def test_signatures_verify_with_the_reference_library() -> None:
    secret = signing.new_secret()
    body = '{"type":"ticket.created","data":{"ticket_id":1}}'
    import time

    now = int(time.time())
    headers = signing.headers(secret, "msg_1", now, body)
    assert Webhook(secret).verify(body, headers)["data"] == {"ticket_id": 1}
    assert signing.is_secret(secret) and not signing.is_secret("whsec_short")


async def test_endpoints_are_validated(hooks: Hooks, agent: Actor) -> None:
    response = await hooks.client.post(
        "/api/v1/webhooks",
        json={
            "name": "x",
            "url": "ftp://user:pw@example.com/hook",
            "event_types": ["ticket.created", "ticket.exploded", "outbox.*"],
            "secret": "not-a-secret",
        },
        headers=hooks.admin.headers,
    )
    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["errors"]]
    assert locs == [
        ["body", "url"],
        ["body", "event_types", 1],
        ["body", "event_types", 2],
        ["body", "secret"],
    ]
    events = await hooks.client.get("/api/v1/webhooks/events", headers=hooks.admin.headers)
    assert "ticket.created" in events.json()
    assert (await hooks.client.get("/api/v1/webhooks", headers=agent.headers)).status_code == 403
