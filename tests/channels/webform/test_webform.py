"""The embeddable web form: the page, a submission through the real endpoint, the
honeypot, per-IP rate limits and the errors a person filling the form sees."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kefu.runtime import Runtime
from tests.channels.vendor_helpers import PNG, make_account, messages, tickets_of
from tests.conftest import Actor, People


@pytest.fixture
async def form(client: httpx.AsyncClient, admin: Actor, people: People) -> dict[str, Any]:
    billing = people.team("Billing")
    people.team("Hidden team")
    return await make_account(
        client,
        admin,
        "webform",
        config={"title": "Acme support", "teams": [billing], "rate_limit": 3},
    )


def fields(**overrides: str) -> dict[str, str]:
    base = {
        "name": "Alice Liu",
        "email": "Alice@Example.com",
        "subject": "Invoice 1042 is wrong",
        "message": "I was charged twice for order 1042.",
    }
    return {**base, **overrides}


async def submit(
    client: httpx.AsyncClient, form: dict[str, Any], data: dict[str, str], **kwargs: Any
) -> httpx.Response:
    return await client.post(f"/api/v1/forms/{form['id']}", data=data, **kwargs)


async def test_page_is_served_in_the_visitors_language(
    client: httpx.AsyncClient, form: dict[str, Any]
) -> None:
    page = await client.get(f"/forms/{form['id']}", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in page.text
    assert "Acme support" in page.text and "您的姓名" in page.text
    assert 'name="website"' in page.text  # the honeypot
    assert ">Billing</option>" in page.text and "Hidden team" not in page.text
    english = await client.get(f"/forms/{form['id']}?lang=en")
    assert "Your name" in english.text
    script = await client.get("/forms/embed.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "/forms/" in script.text
    assert (await client.get("/forms/9999")).status_code == 404


async def test_submission_opens_a_ticket_with_its_files(
    client: httpx.AsyncClient, form: dict[str, Any], agent: Actor
) -> None:
    files = [("attachments", ("screenshot.png", PNG, "image/png"))]
    response = await submit(client, form, fields(), files=files, headers={"Accept-Language": "en"})
    assert response.status_code == 201, response.text
    body = response.json()
    thanks = "Thank you. Your request number is {}; we will reply to alice@example.com."
    assert body["message"] == thanks.format(body["ticket_id"])
    [ticket] = await tickets_of(client, agent, "webform")
    assert (ticket["id"], ticket["subject"]) == (body["ticket_id"], "Invoice 1042 is wrong")
    assert ticket["requester"]["email"] == "alice@example.com"
    [message] = await messages(client, agent, ticket["id"])
    assert message["body_text"] == "I was charged twice for order 1042."
    assert [a["filename"] for a in message["attachments"]] == ["screenshot.png"]


async def test_every_submission_is_its_own_ticket_on_the_chosen_team(
    client: httpx.AsyncClient, form: dict[str, Any], agent: Actor, admin: Actor
) -> None:
    team = form["config"]["teams"][0]
    for _ in range(2):
        response = await submit(client, form, fields(team_id=str(team)))
        assert response.status_code == 201, response.text
    found = await tickets_of(client, admin, "webform")
    assert len(found) == 2
    assert all(t["team"]["id"] == team for t in found)


async def test_bad_fields_are_named(
    client: httpx.AsyncClient, form: dict[str, Any], agent: Actor
) -> None:
    response = await submit(client, form, fields(email="not-an-email", subject=" ", team_id="777"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert {tuple(e["loc"]) for e in response.json()["errors"]} == {
        ("body", "email"),
        ("body", "subject"),
        ("body", "team_id"),
    }
    assert await tickets_of(client, agent, "webform") == []


async def test_refused_file_is_a_clear_error(
    client: httpx.AsyncClient, form: dict[str, Any], agent: Actor
) -> None:
    files = [("attachments", ("run.exe", b"MZ\x90\x00" + b"\x00" * 60, "application/octet-stream"))]
    response = await submit(client, form, fields(), files=files)
    assert response.status_code == 415
    assert response.json()["errors"][0]["loc"] == ["body", "attachments", 0]
    assert await tickets_of(client, agent, "webform") == []


async def test_honeypot_stores_nothing(
    client: httpx.AsyncClient, form: dict[str, Any], agent: Actor
) -> None:
    response = await submit(client, form, fields(website="http://spam.example"))
    assert response.status_code == 202
    assert await tickets_of(client, agent, "webform") == []


async def test_rate_limit_per_client(
    client: httpx.AsyncClient, form: dict[str, Any], runtime: Runtime
) -> None:
    for _ in range(3):
        assert (await submit(client, form, fields())).status_code == 201
    refused = await submit(client, form, fields())
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "at most 3 in 10 min" in refused.json()["detail"]


async def test_replies_to_a_form_ticket_go_by_email(
    client: httpx.AsyncClient, form: dict[str, Any], agent: Actor
) -> None:
    created = await submit(client, form, fields())
    ticket_id = created.json()["ticket_id"]
    response = await client.post(
        f"/api/v1/tickets/{ticket_id}/messages", json={"body": "Refunded."}, headers=agent.headers
    )
    assert response.status_code == 201
    assert response.json()["channel"] == "email"


async def test_the_generic_webhook_does_not_take_form_posts(
    client: httpx.AsyncClient, form: dict[str, Any], agent: Actor
) -> None:
    response = await client.post(form["webhook_url"], data=fields())
    assert response.status_code == 401
    assert await tickets_of(client, agent, "webform") == []
