"""Texts that rules and macros write (replies, notes, emails), with placeholders such as
``{{ ticket.id }}`` and ``{{ requester.name }}``, rendered by a sandboxed Jinja2.

The sandbox refuses attribute tricks (``__class__``...), offers no ``range``, and refuses
``*`` and ``**`` that would build huge values, so a template cannot reach into kefu or
keep the worker busy. Unknown placeholders fail when the rule is saved (each template is
rendered against a sample), and a failure at run time is recorded on the ticket.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.nodes import Template as TemplateNode
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_TEMPLATE = 20_000
MAX_OUTPUT = 100_000
MAX_REPEAT = 1_000


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > 64:
            raise SecurityError("exponent too large")
        if operator == "*":
            count = right if isinstance(left, str | list | tuple) else left
            if isinstance(count, int) and not isinstance(count, bool) and count > MAX_REPEAT:
                raise SecurityError("repetition too large")
        return super().call_binop(context, operator, left, right)


ENV = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
ENV.globals.pop("range", None)
ENV.globals.pop("lipsum", None)
ENV.globals.pop("cycler", None)
ENV.globals.pop("joiner", None)


class TemplateProblem(ValueError):
    """A template that does not parse, or failed to render."""


def parse(source: str) -> TemplateNode:
    if len(source) > MAX_TEMPLATE:
        raise TemplateProblem(f"is longer than {MAX_TEMPLATE} characters")
    try:
        return ENV.parse(source)
    except TemplateError as exc:
        raise TemplateProblem(_message(exc)) from exc


def render(source: str, context: Mapping[str, Any]) -> str:
    try:
        text = ENV.from_string(source).render(dict(context))
    except (TemplateError, SecurityError, ArithmeticError, TypeError, ValueError) as exc:
        raise TemplateProblem(_message(exc)) from exc
    if len(text) > MAX_OUTPUT:
        raise TemplateProblem(f"renders to more than {MAX_OUTPUT} characters")
    return text


def _message(exc: BaseException) -> str:
    line = getattr(exc, "lineno", None)
    where = f" (template line {line})" if line else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _person(name: str, email: str = "") -> dict[str, str]:
    first = name.split()[0] if name.split() else name
    return {"name": name, "first_name": first, "email": email}


SAMPLE: dict[str, Any] = {
    "ticket": {
        "id": 1042,
        "subject": "Refund for order 1042",
        "status": "open",
        "priority": "normal",
        "type": "question",
        "category": "billing",
        "channel": "email",
        "language": "en",
        "tags": ["refund"],
        "custom_fields": {},
        "url": "/tickets/1042",
    },
    "requester": _person("Alice Liu", "alice@example.com"),
    "assignee": _person("Bo Wang", "bo@example.com"),
    "team": {"name": "Support"},
    "agent": _person("Bo Wang", "bo@example.com"),
    "rule": {"name": "A rule"},
    "event": {"name": "ticket.created"},
}
PLACEHOLDERS = (
    "ticket.id",
    "ticket.subject",
    "ticket.status",
    "ticket.priority",
    "ticket.category",
    "ticket.channel",
    "ticket.tags",
    "ticket.url",
    "ticket.custom_fields.KEY",
    "requester.name",
    "requester.first_name",
    "requester.email",
    "assignee.name",
    "assignee.first_name",
    "team.name",
    "agent.name",
    "rule.name",
)


def check(source: str) -> None:
    """Parse and render against a sample: a typo in a placeholder fails now, not later."""
    parse(source)
    sample = {**SAMPLE, "ticket": {**SAMPLE["ticket"], "custom_fields": _AnyKeys()}}
    render(source, sample)


class _AnyKeys(dict[str, str]):
    """Custom fields of the sample: any key answers, since fields differ per install."""

    def __getitem__(self, key: str) -> str:
        return ""

    def __contains__(self, key: object) -> bool:
        return True

    def get(self, key: str, default: Any = None) -> str:
        return ""


def person(name: str | None, email: str | None = None) -> dict[str, str]:
    return _person(name or "", email or "")
