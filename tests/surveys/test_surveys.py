"""Satisfaction surveys: a rule sends the link, the customer answers on a public page, the
answer is kept, written on the ticket and raises ``survey.rated`` for the rules."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kefu.events import Event
from kefu.kit.errors import Invalid
from kefu.kit.time import FrozenClock
from kefu.surveys import service as surveys
from tests.conftest import Actor, People
from tests.rules.conftest import Rules
from tests.surveys.conftest import survey_token
from tests.web.conftest import SignIn

SOLVED = {
    "all": [
        {"field": "update.changed", "op": "includes", "value": "status"},
        {"field": "ticket.status", "op": "is", "value": "solved"},
    ]
}


async def surveyed(rules: Rules, **ticket: Any) -> tuple[dict[str, Any], str]:
    """A ticket solved, a rule's survey sent on it, and the token of its link."""
    await rules.rule(
        name=f"Survey {ticket.get('subject', 'on solve')}",
        trigger=["ticket.updated"],
        conditions=SOLVED,
        actions=[{"type": "send_survey"}],
    )
    created = await rules.ticket(**ticket)
    await rules.patch(created["id"], status="solved")
    await rules.run()
    return created, survey_token(await rules.messages(created["id"]))


async def listed(rules: Rules, ticket_id: int, actor: Actor | None = None) -> httpx.Response:
    headers = (actor or rules.lead).headers
    return await rules.client.get(f"/api/v1/tickets/{ticket_id}/surveys", headers=headers)


async def test_a_rule_sends_the_survey_link_on_the_ticket(rules: Rules) -> None:
    seen: list[Event] = []
    rules.runtime.bus.subscribe("survey.requested", seen.append)
    ticket, token = await surveyed(rules)
    assert len(token) >= 43  # 256 random bits
    messages = await rules.messages(ticket["id"])
    system = [m for m in messages if m["author_type"] == "system"]
    assert len(system) == 1 and system[0]["visibility"] == "public"
    text = system[0]["body_text"]
    assert text.startswith("How did we do?")
    assert f"https://help.example.com/survey/{token}" in text
    [survey] = (await listed(rules, ticket["id"])).json()
    assert survey["rating"] is None and survey["rated_at"] is None
    assert "token" not in survey
    assert [e.payload["ticket_id"] for e in seen] == [ticket["id"]]
    history = await rules.history(ticket["id"])
    assert any(e["kind"] == "rule_fired" for e in history)

    # Asked again while unanswered: the same survey, its link sent again.
    await rules.patch(ticket["id"], status="open")
    await rules.run()  # rules see the ticket as it is when they run
    await rules.patch(ticket["id"], status="solved")
    await rules.run()
    assert len((await listed(rules, ticket["id"])).json()) == 1
    again = [m for m in await rules.messages(ticket["id"]) if m["author_type"] == "system"]
    assert len(again) == 2 and survey_token(again) == token


async def test_the_page_speaks_the_tickets_language(rules: Rules) -> None:
    ticket, token = await surveyed(rules, subject="快递三天没到", language="zh_CN")
    message = [m for m in await rules.messages(ticket["id"]) if m["author_type"] == "system"]
    assert "请点击链接为我们评分" in message[0]["body_text"]
    page = await rules.client.get(f"/survey/{token}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text
    assert "您对我们的服务满意吗？" in page.text and "快递三天没到" in page.text
    assert "非常满意" in page.text and "非常不满意" in page.text
    assert 'name="rating" value="5"' in page.text and "How did we do?" not in page.text
    assert page.headers["cache-control"] == "no-store"


async def test_without_a_language_the_page_follows_the_browser(rules: Rules) -> None:
    _, token = await surveyed(rules)
    page = await rules.client.get(f"/survey/{token}", headers={"Accept-Language": "zh-CN,zh"})
    assert page.status_code == 200 and "您对我们的服务满意吗？" in page.text
    english = await rules.client.get(f"/survey/{token}")
    assert "How did we do?" in english.text and "Very happy" in english.text


async def test_a_rating_is_kept_written_on_the_ticket_and_fires_rules(rules: Rules) -> None:
    await rules.rule(
        name="Unhappy customers",
        trigger=["survey.rated"],
        conditions={"all": [{"field": "survey.rating", "op": "lte", "value": 2}]},
        actions=[{"type": "add_tags", "tags": ["unhappy"]}],
    )
    low, low_token = await surveyed(rules, subject="Late parcel")
    high, high_token = await surveyed(rules, subject="Fast refund")
    seen: list[Event] = []
    rules.runtime.bus.subscribe("survey.rated", seen.append)

    answer = await rules.client.post(
        f"/survey/{low_token}", data={"rating": "2", "comment": "太慢了"}
    )
    assert answer.status_code == 200, answer.text
    assert "Thank you for your feedback!" in answer.text
    assert (await rules.client.post(f"/survey/{high_token}", data={"rating": "5"})).is_success
    assert [(e.payload["ticket_id"], e.payload["rating"], e.payload["comment"]) for e in seen] == [
        (low["id"], 2, "太慢了"),
        (high["id"], 5, ""),
    ]
    await rules.run()
    assert (await rules.get(low["id"]))["tags"] == ["unhappy"]
    assert (await rules.get(high["id"]))["tags"] == []

    [survey] = (await listed(rules, low["id"])).json()
    assert survey["rating"] == 2 and survey["comment"] == "太慢了"
    assert survey["rated_at"] is not None
    rows = [e for e in await rules.history(low["id"]) if e["kind"] == "survey_rated"]
    assert [r["new_value"] for r in rows] == ["2/5 — 太慢了"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"rating": "6"}, "rating"),
        ({"rating": "0"}, "rating"),
        ({"rating": "three"}, "rating"),
        ({}, "rating"),
        ({"rating": "4", "comment": "x" * 2001}, "comment"),
    ],
)
async def test_a_bad_answer_is_refused_and_nothing_is_kept(
    rules: Rules, data: dict[str, str], field: str
) -> None:
    ticket, token = await surveyed(rules)
    seen: list[Event] = []
    rules.runtime.bus.subscribe("survey.rated", seen.append)
    answer = await rules.client.post(f"/survey/{token}", data=data)
    assert answer.status_code == 422
    assert f'id="{field}-error"' in answer.text
    assert "Thank you" not in answer.text
    [survey] = (await listed(rules, ticket["id"])).json()
    assert survey["rating"] is None and survey["comment"] is None
    assert not [e for e in await rules.history(ticket["id"]) if e["kind"] == "survey_rated"]
    assert seen == []


async def test_the_service_names_the_field_at_fault(rules: Rules) -> None:
    _, token = await surveyed(rules)
    with pytest.raises(Invalid) as refused:
        await rules.runtime.db.write(surveys.rate, token, 9, None)
    assert refused.value.status == 422
    assert [e.loc for e in refused.value.errors] == [["body", "rating"]]


async def test_an_unknown_link_is_a_404_page(rules: Rules) -> None:
    await surveyed(rules)
    for response in (
        await rules.client.get("/survey/not-a-real-token"),
        await rules.client.post("/survey/not-a-real-token", data={"rating": "5"}),
    ):
        assert response.status_code == 404
        assert "Survey not found" in response.text


async def test_a_new_answer_replaces_the_last(rules: Rules, clock: FrozenClock) -> None:
    ticket, token = await surveyed(rules)
    await rules.client.post(f"/survey/{token}", data={"rating": "5", "comment": "Great"})
    [first] = (await listed(rules, ticket["id"])).json()
    clock.advance(hours=2)
    await rules.client.post(f"/survey/{token}", data={"rating": "1"})
    [survey] = (await listed(rules, ticket["id"])).json()
    assert survey["rating"] == 1 and survey["comment"] is None
    assert survey["rated_at"] > first["rated_at"]
    rows = [e for e in await rules.history(ticket["id"]) if e["kind"] == "survey_rated"]
    assert [(r["old_value"], r["new_value"]) for r in rows] == [
        (None, "5/5 — Great"),
        ("5/5", "1/5"),
    ]
    page = await rules.client.get(f"/survey/{token}")
    assert "You rated this 1 out of 5." in page.text
    assert 'value="1" required checked' in page.text


async def test_answers_are_rate_limited(rules: Rules) -> None:
    _, token = await surveyed(rules)
    for _ in range(20):
        wrong = await rules.client.post(f"/survey/{token}", data={"rating": "9"})
        assert wrong.status_code == 422
    refused = await rules.client.post(f"/survey/{token}", data={"rating": "5"})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0


async def test_a_signed_in_browser_needs_no_csrf_token_on_the_survey(
    rules: Rules, browser: SignIn, people: People
) -> None:
    """The token in the address is the credential: an agent's session cookie in the same
    browser (whose CSRF check would refuse a form without its token) does not get in the way."""
    ticket, token = await surveyed(rules)
    b = await browser(people.user("agent"))
    answer = await b.http.post(f"/survey/{token}", data={"rating": "4"})
    assert answer.status_code == 200, answer.text
    assert (await listed(rules, ticket["id"])).json()[0]["rating"] == 4


async def test_the_list_and_the_side_panel_respect_private_teams(
    rules: Rules, people: People, browser: SignIn
) -> None:
    member = people.user("agent")
    secret = people.team("Legal", private=True, members=[member.id])
    ticket, token = await surveyed(rules, team_id=secret)
    await rules.client.post(f"/survey/{token}", data={"rating": "4", "comment": "Kind people"})
    outsider = people.user("agent")
    assert (await listed(rules, ticket["id"], outsider)).status_code == 404
    seen = await listed(rules, ticket["id"], member)
    assert seen.status_code == 200 and [s["rating"] for s in seen.json()] == [4]
    page = await (await browser(member)).get(f"/tickets/{ticket['id']}")
    assert page.status_code == 200
    assert "Satisfaction: 4/5" in page.text and "Kind people" in page.text


def test_without_a_base_url_the_link_is_relative() -> None:
    from types import SimpleNamespace

    from kefu.config import Settings

    ctx: Any = SimpleNamespace(settings=Settings(base_url=""))
    assert surveys.link(ctx, "abc") == "/survey/abc"
    ctx.settings = Settings(base_url="https://help.example.com/")
    assert surveys.link(ctx, "abc") == "https://help.example.com/survey/abc"
