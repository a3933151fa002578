"""Signed-in visitors: the company's site signs who they are; kefu checks the signature."""

from __future__ import annotations

import httpx

from tests.channels.webchat.conftest import Live, Visitor, identity_token
from tests.conftest import Actor


async def test_a_signed_visitor_is_the_customer_with_that_email(
    live: Live, http: httpx.AsyncClient, account: int, agent: Actor
) -> None:
    visitor = await Visitor.connect(live, account, identity=identity_token())
    assert visitor.welcome["identified"] is True and visitor.welcome["prechat"] is False
    assert visitor.welcome["profile"]["email"] == "grace@example.com"
    ack = await visitor.say("Where is my invoice?")
    ticket = (await http.get(f"/api/v1/tickets/{ack['ticket_id']}", headers=agent.headers)).json()
    assert ticket["requester"]["name"] == "Grace Hopper"
    customer = (
        await http.get(f"/api/v1/customers/{ticket['requester']['id']}", headers=agent.headers)
    ).json()
    assert customer["email"] == "grace@example.com"
    assert [e for e in visitor.seen if e["type"] == "error"] == []
    await visitor.close()


async def test_forged_and_expired_tokens_leave_the_visitor_anonymous(
    live: Live, http: httpx.AsyncClient, account: int, agent: Actor
) -> None:
    for token, code in (
        (identity_token(secret="a-forger-guessed-this-secret-of-32-bytes"), "identity_invalid"),
        (identity_token(ttl_s=-120), "identity_expired"),
        ("garbage.token.here", "identity_invalid"),
    ):
        visitor = await Visitor.connect(live, account, identity=token)
        assert visitor.welcome["identified"] is False
        assert (await visitor.expect("error"))["code"] == code
        ack = await visitor.say("hello")
        ticket = (
            await http.get(f"/api/v1/tickets/{ack['ticket_id']}", headers=agent.headers)
        ).json()
        customer = (
            await http.get(f"/api/v1/customers/{ticket['requester']['id']}", headers=agent.headers)
        ).json()
        assert customer["email"] is None
        assert [i["kind"] for i in customer["identities"]] == ["webchat"]
        await visitor.close()


async def test_a_signed_in_conversation_is_not_resumed_by_someone_else(
    live: Live, account: int
) -> None:
    grace = await Visitor.connect(live, account, identity=identity_token())
    await grace.say("private matter")
    await grace.close()
    # the same browser later, signed out, or signed in as another user: a new conversation
    for identity in (None, identity_token(sub="u-7", email="eve@example.com", name="Eve")):
        other = await Visitor.connect(
            live, account, session=grace.session, since=0, identity=identity
        )
        assert other.welcome["conversation"] is None and other.welcome["last_seq"] == 0
        assert [f for f in await other.quiet(0.3) if f["type"] == "message"] == []
        await other.close()
    back = await Visitor.connect(live, account, session=grace.session, identity=identity_token())
    assert back.welcome["conversation"] == grace.conversation
    assert (await back.expect("message"))["text"] == "private matter"
    await back.close()
