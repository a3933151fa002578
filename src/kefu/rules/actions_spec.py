"""Actions as written (``{type: assign, team: Billing}``) checked and normalised: names
resolved to ids, tags normalised, templates parsed and tried on a sample, keyword tables
compiled. Each fault is reported with its path; the result is what ``actions.py`` runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import re2

from kefu.kit.errors import FieldError
from kefu.kit.validators import normalise_tag
from kefu.rules import catalogue as cat
from kefu.rules import templates
from kefu.rules.refs import Refs

Loc = list[str | int]
_EMAIL = re2.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class CompiledAction:
    type: str
    params: Mapping[str, Any]
    needs: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Keywords:
    """One category of a keyword classification: its words as one RE2 program."""

    category: str
    tags: tuple[str, ...]
    program: Any  # re2 program: English words on word boundaries, Chinese anywhere

    def hits(self, text: str) -> int:
        return sum(1 for _ in self.program.finditer(text)) if text else 0


@dataclass
class _Checking:
    refs: Refs
    subject: str
    loc: Loc
    data: Mapping[str, Any]
    errors: list[FieldError] = field(default_factory=list)

    def fail(self, key: str | None, msg: str) -> None:
        self.errors.append(FieldError([*self.loc, key] if key else list(self.loc), msg))

    def text(self, key: str, *, required: bool = True, limit: int = 200) -> str | None:
        value = self.data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(key, "is required")
            return None
        if not isinstance(value, str) or len(value) > limit:
            self.fail(key, f"must be text of at most {limit} characters")
            return None
        return value.strip()

    def template(self, key: str, *, required: bool = True) -> str | None:
        source = self.text(key, required=required, limit=templates.MAX_TEMPLATE)
        if source is None:
            return None
        try:
            templates.check(source)
        except templates.TemplateProblem as exc:
            self.fail(key, f"template error: {exc}")
            return None
        return source

    def name(self, key: str, table: Mapping[str, int], what: str) -> int | None:
        value = self.text(key, required=False)
        if value is None:
            return None
        found = table.get(value.lower()) if table is not self.refs.webhooks else table.get(value)
        if found is None:
            self.fail(key, f"no {what} '{value}'")
        return found


def compile_actions(
    items: Sequence[Any], refs: Refs, subject: str, loc: Loc, *, macro: bool
) -> tuple[list[CompiledAction], list[FieldError]]:
    actions: list[CompiledAction] = []
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        where = [*loc, index]
        if not isinstance(item, dict):
            errors.append(FieldError(where, "must be an action {type: ..., ...}"))
            continue
        spec = cat.ACTIONS.get(str(item.get("type")))
        if spec is None:
            known = ", ".join(a for a, s in cat.ACTIONS.items() if subject in s.subjects)
            errors.append(
                FieldError([*where, "type"], f"'{item.get('type')}' is not an action; use {known}")
            )
            continue
        if subject not in spec.subjects or (macro and not spec.in_macros):
            whose = "macros" if macro else f"{subject} rules"
            errors.append(
                FieldError([*where, "type"], f"'{spec.type}' is not available in {whose}")
            )
            continue
        state = _Checking(refs, subject, where, item)
        action = _CHECKS[spec.type](state)
        allowed = _PARAMS[spec.type] | {"type"}
        for key in sorted(set(item) - allowed):
            state.fail(key, f"is not a setting of {spec.type}; use {', '.join(sorted(allowed))}")
        errors += state.errors
        if not state.errors and action is not None:
            actions.append(action)
    return actions, errors


# -- one check per action type ---------------------------------------------------------------
def _set_field(s: _Checking) -> CompiledAction | None:
    name = s.text("field")
    if name is None:
        return None
    value = s.data.get("value")
    if name.startswith("custom_fields."):
        key = name.removeprefix("custom_fields.")
        if key not in s.refs.ticket_fields:
            s.fail("field", f"no custom field with the key '{key}'")
            return None
        kind, options = s.refs.ticket_fields[key]
        if options and kind == "select" and value is not None and value not in options:
            s.fail("value", f"'{value}' is not one of {', '.join(options)}")
        return CompiledAction("set_field", {"field": name, "value": value})
    if name not in cat.SETTABLE:
        fields = ", ".join([*cat.SETTABLE, "custom_fields.KEY"])
        s.fail("field", f"'{name}' cannot be set by a rule; set one of {fields}")
        return None
    choices = cat.SETTABLE[name]
    if value is None and name in ("type", "category", "language"):
        return CompiledAction("set_field", {"field": name, "value": None})
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        s.fail("value", "must be a value of at most 100 characters")
        return None
    if choices and value not in choices:
        s.fail("value", f"'{value}' is not one of {', '.join(choices)}")
        return None
    return CompiledAction("set_field", {"field": name, "value": value.strip()})


def _assign(s: _Checking) -> CompiledAction | None:
    team_id = s.name("team", s.refs.teams, "team")
    agent_id = s.name("agent", s.refs.users, "agent with the email")
    queue_id = s.name("queue", s.refs.queues, "queue")
    if not any(s.data.get(k) for k in ("team", "agent", "queue")):
        s.fail(None, "name a team, an agent (email) or a queue")
    params = {"team_id": team_id, "agent_id": agent_id, "queue_id": queue_id}
    return CompiledAction(
        "assign", {**params, **{k: s.data.get(k) for k in ("team", "agent", "queue")}}
    )


def _tags(s: _Checking) -> CompiledAction | None:
    values = s.data.get("tags")
    if not isinstance(values, list) or not values or len(values) > 20:
        s.fail("tags", "give a list of 1 to 20 tags")
        return None
    tags: list[str] = []
    for index, value in enumerate(values):
        try:
            tags.append(normalise_tag(str(value)))
        except ValueError as exc:
            s.errors.append(FieldError([*s.loc, "tags", index], str(exc)))
    return CompiledAction(str(s.data["type"]), {"tags": sorted(set(tags))})


def _message(s: _Checking) -> CompiledAction | None:
    body = s.template("body")
    return CompiledAction(str(s.data["type"]), {"body": body}, frozenset({"context"}))


def _classify(s: _Checking) -> CompiledAction | None:
    items = s.data.get("categories")
    if not isinstance(items, list) or not items or len(items) > 100:
        s.fail("categories", "give a list of 1 to 100 categories with their keywords")
        return None
    tables = [_keywords(s, item, index) for index, item in enumerate(items)]
    overwrite = s.data.get("overwrite", False)
    if not isinstance(overwrite, bool):
        s.fail("overwrite", "must be true or false")
    found = tuple(t for t in tables if t is not None)
    return CompiledAction(
        "classify", {"tables": found, "overwrite": overwrite}, frozenset({"message"})
    )


def _keywords(s: _Checking, item: Any, index: int) -> Keywords | None:
    loc: Loc = [*s.loc, "categories", index]
    if not isinstance(item, dict) or set(item) - {"category", "keywords", "tags"}:
        s.errors.append(FieldError(loc, "must be {category, keywords, tags}"))
        return None
    category, words = item.get("category"), item.get("keywords")
    if not isinstance(category, str) or not category.strip() or len(category) > 100:
        s.errors.append(FieldError([*loc, "category"], "must be a category name"))
        return None
    if (
        not isinstance(words, list)
        or not words
        or not all(isinstance(w, str) and w.strip() for w in words)
    ):
        s.errors.append(FieldError([*loc, "keywords"], "give a list of words"))
        return None
    tags = []
    for t_index, tag in enumerate(item.get("tags") or []):
        try:
            tags.append(normalise_tag(str(tag)))
        except ValueError as exc:
            s.errors.append(FieldError([*loc, "tags", t_index], str(exc)))
    return Keywords(category.strip(), tuple(tags), keyword_program(words))


def keyword_program(words: Sequence[str]) -> Any:
    """English (and other ASCII) words match whole words, any case; Chinese words match
    anywhere, since Chinese is written without spaces."""
    parts = []
    for word in sorted({w.strip().lower() for w in words}, key=len, reverse=True):
        escaped = re2.escape(word)
        parts.append(rf"\b{escaped}\b" if word.isascii() else escaped)
    options = re2.Options()
    options.case_sensitive = False
    return re2.compile("|".join(parts), options)


def _recipients(s: _Checking, key: str, allowed: Sequence[str], emails: bool) -> list[str]:
    choices = ", ".join(allowed) + (" or email addresses" if emails else "")
    values = s.data.get(key)
    if not isinstance(values, list) or not values or len(values) > 20:
        s.fail(key, f"give a list of recipients: {choices}")
        return []
    for index, value in enumerate(values):
        ok = value in allowed or (emails and isinstance(value, str) and _EMAIL.match(value))
        if not ok:
            s.errors.append(FieldError([*s.loc, key, index], f"'{value}' is not one of {choices}"))
    return [str(v) for v in values]


def _people(s: _Checking) -> tuple[str, ...]:
    return ("agent", "supervisors", "team") if s.subject == cat.AGENT else cat.RECIPIENTS


def _notify(s: _Checking) -> CompiledAction | None:
    to = _recipients(s, "to", [p for p in _people(s) if p != "requester"], emails=False)
    message = s.template("message", required=False)
    return CompiledAction("notify", {"to": to, "message": message}, frozenset({"context"}))


def _notify_email(s: _Checking) -> CompiledAction | None:
    to = _recipients(s, "to", _people(s), emails=True)
    subject, body = s.template("subject"), s.template("body")
    return CompiledAction(
        "notify_email", {"to": to, "subject": subject, "body": body}, frozenset({"context"})
    )


def _webhook(s: _Checking) -> CompiledAction | None:
    if s.text("webhook") is None:
        return None
    endpoint_id = s.name("webhook", s.refs.webhooks, "webhook endpoint")
    return CompiledAction("webhook", {"endpoint_id": endpoint_id, "webhook": s.data["webhook"]})


def _escalate(s: _Checking) -> CompiledAction | None:
    priority = s.data.get("priority", "raise")
    if priority not in cat.PRIORITY_STEPS:
        s.fail("priority", f"use one of {', '.join(cat.PRIORITY_STEPS)}")
    notify = s.data.get("notify", ["assignee", "supervisors"])
    to = (
        _recipients(s, "notify", ("assignee", "supervisors", "team"), emails=False)
        if "notify" in s.data
        else list(notify)
    )
    team_id = s.name("team", s.refs.teams, "team")
    return CompiledAction(
        "escalate",
        {"priority": priority, "notify": to, "team_id": team_id, "team": s.data.get("team")},
    )


def _survey(s: _Checking) -> CompiledAction | None:
    return CompiledAction("send_survey", {})


_CHECKS: dict[str, Callable[[_Checking], CompiledAction | None]] = {
    "set_field": _set_field,
    "assign": _assign,
    "add_tags": _tags,
    "remove_tags": _tags,
    "add_note": _message,
    "reply": _message,
    "classify": _classify,
    "notify": _notify,
    "notify_email": _notify_email,
    "webhook": _webhook,
    "escalate": _escalate,
    "send_survey": _survey,
}
_PARAMS: dict[str, set[str]] = {
    "set_field": {"field", "value"},
    "assign": {"team", "agent", "queue"},
    "add_tags": {"tags"},
    "remove_tags": {"tags"},
    "add_note": {"body"},
    "reply": {"body"},
    "classify": {"categories", "overwrite"},
    "notify": {"to", "message"},
    "notify_email": {"to", "subject", "body"},
    "webhook": {"webhook"},
    "escalate": {"priority", "notify", "team"},
    "send_survey": set(),
}
