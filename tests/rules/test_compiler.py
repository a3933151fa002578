"""The compiler on its own: conditions as predicates over facts (all/any nesting, text in
Chinese and English, RE2 patterns, ordered priorities, sets, custom fields, business
hours and business days), keyword classification, and the template sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.calendars.hours import BusinessHours, Span
from kefu.rules import templates
from kefu.rules.actions import best_category
from kefu.rules.actions_spec import compile_actions
from kefu.rules.compiler import compile_rule
from kefu.rules.refs import Refs
from kefu.rules.values import business_days

NINE_TO_SIX = (Span(9 * 3600, 18 * 3600),)
OFFICE = BusinessHours(
    zone=ZoneInfo("Asia/Shanghai"),
    week=(NINE_TO_SIX,) * 5 + ((), ()),
    holidays=frozenset({datetime(2026, 1, 7).date()}),  # a Wednesday off
)
REFS = Refs(
    teams={"billing": 7},
    users={"bo@example.com": 3},
    calendars={"Office": OFFICE},
    ticket_fields={"plan": ("select", ("gold", "silver")), "seats": ("number", ())},
    customer_fields={"region": ("text", ())},
)
MONDAY_10 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def predicate(conditions: dict[str, Any], trigger: str = "ticket.created") -> Any:
    rule, errors = compile_rule(
        {"trigger": [trigger], "conditions": conditions, "actions": [{"type": "send_survey"}]},
        REFS,
        [],
    )
    assert rule is not None, errors
    return rule.matches


def facts(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "now": MONDAY_10,
        "ticket.subject": "Refund for order 1042",
        "ticket.priority": 1,
        "ticket.tags": frozenset({"vip"}),
        "ticket.team": 7,
        "ticket.custom_fields": {"plan": "gold", "seats": 12},
        "customer.attributes": {"region": "East China"},
        "customer.tier": "standard",
    }
    base.update(values)
    for key in ("ticket.subject", "ticket.text", "message.body"):
        if key in base:
            base[key + "~"] = str(base[key]).lower()
    return base


def test_all_and_any_nest() -> None:
    matches = predicate(
        {
            "all": [
                {"field": "ticket.subject", "op": "contains", "value": "REFUND"},
                {
                    "any": [
                        {"field": "customer.tier", "op": "is", "value": "vip"},
                        {"all": [{"field": "ticket.tags", "op": "includes", "value": ["vip"]}]},
                    ]
                },
            ]
        }
    )
    assert matches(facts())
    assert not matches(facts(**{"ticket.tags": frozenset()}))
    assert matches(facts(**{"ticket.tags": frozenset(), "customer.tier": "vip"}))
    assert not predicate({"any": []})(facts())
    assert predicate({"all": []})(facts())


def test_text_in_chinese_and_english_and_patterns() -> None:
    chinese = predicate(
        {"all": [{"field": "ticket.text", "op": "contains", "value": ["退款", "refund"]}]}
    )
    assert chinese(facts(**{"ticket.text": "我想申请退款"}))
    assert chinese(facts(**{"ticket.text": "Please REFUND me"}))
    assert not chinese(facts(**{"ticket.text": "发票问题"}))
    pattern = predicate(
        {"all": [{"field": "ticket.subject", "op": "matches", "value": r"order \d{4}$"}]}
    )
    assert pattern(facts()) and not pattern(facts(**{"ticket.subject": "order 12"}))
    hostile = "a" * 50_000 + "!"
    slow_in_backtracking = predicate(
        {"all": [{"field": "ticket.subject", "op": "matches", "value": "(a+)+$"}]}
    )
    assert slow_in_backtracking(facts(**{"ticket.subject": hostile})) is False


def test_priorities_compare_by_rank_and_teams_by_name() -> None:
    at_least_high = predicate({"all": [{"field": "ticket.priority", "op": "gte", "value": "high"}]})
    assert not at_least_high(facts()) and at_least_high(facts(**{"ticket.priority": 3}))
    billing = predicate({"all": [{"field": "ticket.team", "op": "is", "value": "Billing"}]})
    assert billing(facts()) and not billing(facts(**{"ticket.team": None}))


def test_custom_fields_and_attributes_have_their_types() -> None:
    gold = predicate({"all": [{"field": "ticket.custom_fields.plan", "op": "is", "value": "gold"}]})
    big = predicate({"all": [{"field": "ticket.custom_fields.seats", "op": "gt", "value": 10}]})
    east = predicate(
        {"all": [{"field": "customer.attributes.region", "op": "contains", "value": "east"}]}
    )
    assert gold(facts()) and big(facts()) and east(facts())
    assert not big(facts(**{"ticket.custom_fields": {"seats": "many"}}))
    _, errors = compile_rule(
        {
            "trigger": ["ticket.created"],
            "conditions": {
                "all": [{"field": "ticket.custom_fields.plan", "op": "is", "value": "bronze"}]
            },
            "actions": [{"type": "send_survey"}],
        },
        REFS,
        ["body"],
    )
    assert [e.loc for e in errors] == [["body", "conditions", "all", 0, "value"]]


def test_within_business_hours_follows_the_calendar() -> None:
    open_now = predicate(
        {"all": [{"field": "now.business_hours", "op": "is", "value": True, "calendar": "Office"}]}
    )
    assert open_now(facts())
    assert not open_now(facts(now=MONDAY_10 + timedelta(hours=9)))  # 19:00
    assert not open_now(facts(now=MONDAY_10 + timedelta(days=2)))  # the holiday


def test_business_days_skip_weekends_and_holidays() -> None:
    friday_10 = datetime(2026, 1, 9, 2, 0, tzinfo=UTC)
    assert business_days(OFFICE, MONDAY_10, MONDAY_10 + timedelta(days=3), 99) == 2  # Tue, Thu
    assert business_days(OFFICE, friday_10, friday_10 + timedelta(days=3), 99) == 1  # Monday
    assert business_days(OFFICE, friday_10, friday_10 + timedelta(days=3, minutes=-1), 99) == 0


@given(st.integers(min_value=0, max_value=60), st.integers(min_value=0, max_value=60))
def test_business_days_grow_with_time(a: int, b: int) -> None:
    start = MONDAY_10
    early, late = sorted((a, b))
    first = business_days(OFFICE, start, start + timedelta(days=early), 999)
    second = business_days(OFFICE, start, start + timedelta(days=late), 999)
    assert 0 <= first <= second <= late


def test_keyword_classification_counts_subject_twice_and_reads_both_languages() -> None:
    actions, errors = compile_actions(
        [
            {
                "type": "classify",
                "categories": [
                    {
                        "category": "billing",
                        "keywords": ["invoice", "发票", "refund"],
                        "tags": ["money"],
                    },
                    {"category": "delivery", "keywords": ["parcel", "快递", "物流"]},
                ],
            }
        ],
        REFS,
        "ticket",
        [],
        macro=False,
    )
    assert errors == []
    tables = actions[0].params["tables"]
    assert (
        best_category(tables, {"ticket.subject": "快递没到", "message.body": "发票也没有"}).category
        == "delivery"
    )
    assert (
        best_category(tables, {"ticket.subject": "Invoices", "message.body": "my parcel"}).category
        == "delivery"
    )
    assert (
        best_category(
            tables, {"ticket.subject": "Invoice wrong", "message.body": "parcel"}
        ).category
        == "billing"
    )
    assert best_category(tables, {"ticket.subject": "hello", "message.body": ""}) is None


@pytest.mark.parametrize(
    "source",
    [
        "{{ ticket.__class__.__mro__ }}",
        "{{ 'x' * 100000000 }}",
        "{{ 2 ** 100000 }}",
        "{% for i in range(10) %}{% endfor %}",
        "{{ requester.nam }}",
        "{{ unclosed",
    ],
)
def test_the_template_sandbox_refuses_what_could_hurt(source: str) -> None:
    with pytest.raises(templates.TemplateProblem):
        templates.check(source)


def test_templates_fill_placeholders() -> None:
    text = templates.render(
        "{{ requester.first_name }}: #{{ ticket.id }} {{ ticket.tags | join(',') }}",
        templates.SAMPLE,
    )
    assert text == "Alice: #1042 refund"
