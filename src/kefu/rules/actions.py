"""What actions do, through the other domains' services. Each action answers what it did
as ``ActionResult`` rows; with ``dry`` it answers what it *would* do and changes nothing
(the dry run and the macro preview use that).

A rule acts as kefu itself (actor None, written on the history as the rule); a macro acts
as the agent who applies it, with that agent's permissions.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kefu.accounts import service as accounts
from kefu.accounts.schemas import UserRead
from kefu.db import Ctx
from kefu.kit.errors import DomainError
from kefu.notifications import service as notifications
from kefu.notifications.schemas import NewNotification
from kefu.outbox import service as outbox
from kefu.rules import templates
from kefu.rules.actions_spec import CompiledAction, Keywords
from kefu.rules.values import Facts
from kefu.security.permissions import Principal
from kefu.tickets import conversation
from kefu.tickets import service as tickets
from kefu.tickets.models import PRIORITY_RANK, RANK_PRIORITY, Priority, Visibility
from kefu.tickets.schemas import MessageCreate, TicketUpdate

EMAIL_KIND = "rules.email"
R = dict[str, Any]


class ActionFailed(Exception):
    """An action that could not be done; its message goes on the ticket's history."""


@dataclass
class Env:
    """What an action runs with: the unit of work, the facts, and who acts."""

    ctx: Ctx
    facts: Facts
    rule_id: int | None  # None for a macro
    name: str  # the rule's or macro's name
    actor: Principal | None
    dry: bool

    @property
    def ticket_id(self) -> int:
        return int(self.facts["ticket.id"])

    def context(self) -> dict[str, Any]:
        return template_context(self.facts, self.name, self.actor)


def run(env: Env, action: CompiledAction) -> list[R]:
    return _DO[action.type](env, action)


def _result(action: str, **values: Any) -> R:
    return {"action": action, "ok": True} | values


# -- ticket fields ---------------------------------------------------------------------------
def _update(env: Env, data: TicketUpdate) -> None:
    """Through the tickets service (checks, history, events, SLA hooks); a rule skips the
    full read of the ticket that ``update_ticket`` answers with, as nobody reads it."""
    if env.dry:
        return
    if env.actor is not None:
        tickets.update_ticket(env.ctx, env.actor, env.ticket_id, data)
        return
    ticket = tickets.load_ticket(env.ctx, None, env.ticket_id, write=True)
    changes = tickets.apply_update(env.ctx, None, ticket, data)
    if changes:
        tickets.record_changes(env.ctx, None, ticket, changes)


def current_value(facts: Facts, name: str) -> Any:
    if name.startswith("custom_fields."):
        return (facts.get("ticket.custom_fields") or {}).get(name.removeprefix("custom_fields."))
    if name == "priority":
        return RANK_PRIORITY[int(facts["ticket.priority"])].value
    return facts.get(f"ticket.{name}")


def set_field(env: Env, action: CompiledAction) -> list[R]:
    name, value = action.params["field"], action.params["value"]
    old = current_value(env.facts, name)
    if old == value:
        return [_result("set_field", field=name, old=old, new=value, detail="unchanged")]
    if name.startswith("custom_fields."):
        _update(env, TicketUpdate(custom_fields={name.removeprefix("custom_fields."): value}))
    else:
        _update(env, TicketUpdate.model_validate({name: value}))
    return [_result("set_field", field=name, old=old, new=value)]


def assign(env: Env, action: CompiledAction) -> list[R]:
    p = action.params
    changes: dict[str, Any] = {}
    results: list[R] = []
    if p["team_id"] is not None and p["team_id"] != env.facts.get("ticket.team"):
        changes["team_id"] = p["team_id"]
        results.append(_result("assign", field="team", new=p["team"]))
    if p["agent_id"] is not None and p["agent_id"] != env.facts.get("ticket.assignee"):
        changes["assignee_id"] = p["agent_id"]
        results.append(_result("assign", field="assignee", new=p["agent"]))
    if changes:
        _update(env, TicketUpdate(**changes))
    if p["queue_id"] is not None:
        results.append(_queue(env, p["queue_id"], str(p["queue"])))
    return results or [_result("assign", detail="unchanged")]


def _queue(env: Env, queue_id: int, name: str) -> R:
    from kefu.routing import work  # routing builds on tickets; imported where used

    if env.dry:
        return _result("assign", field="queue", new=name)
    item = work.enqueue_ticket(env.ctx, env.ticket_id, queue_id)
    if item is None:
        raise ActionFailed(f"queue {name} did not take the ticket (assigned or not open)")
    return _result("assign", field="queue", new=name, detail=f"work item {item.id}")


def tags(env: Env, action: CompiledAction) -> list[R]:
    wanted = list(action.params["tags"])
    current = set(env.facts.get("ticket.tags") or ())
    adding = action.type == "add_tags"
    effective = [t for t in wanted if (t not in current) == adding]
    if not effective:
        return [_result(action.type, field="tags", new=wanted, detail="unchanged")]
    data = TicketUpdate(add_tags=effective) if adding else TicketUpdate(remove_tags=effective)
    _update(env, data)
    return [_result(action.type, field="tags", old=sorted(current), new=effective)]


# -- messages --------------------------------------------------------------------------------
def message(env: Env, action: CompiledAction) -> list[R]:
    text = templates.render(str(action.params["body"]), env.context())
    note = action.type == "add_note"
    if not env.dry:
        visibility = Visibility.note if note else Visibility.public
        if env.actor is None:
            conversation.add_system_message(env.ctx, env.ticket_id, text, visibility)
        else:
            data = MessageCreate(body=text, visibility=visibility)
            conversation.add_message(env.ctx, env.actor, env.ticket_id, data)
    return [_result(action.type, detail=text)]


def classify(env: Env, action: CompiledAction) -> list[R]:
    tables: tuple[Keywords, ...] = action.params["tables"]
    best = best_category(tables, env.facts)
    if best is None:
        return [_result("classify", detail="no keyword found")]
    results: list[R] = []
    current = env.facts.get("ticket.category")
    if best.category != current and (not current or action.params["overwrite"]):
        _update(env, TicketUpdate(category=best.category))
        results.append(_result("classify", field="category", old=current, new=best.category))
    new_tags = [t for t in best.tags if t not in (env.facts.get("ticket.tags") or ())]
    if new_tags:
        _update(env, TicketUpdate(add_tags=new_tags))
        results.append(_result("classify", field="tags", new=new_tags))
    return results or [_result("classify", detail=f"{best.category}: unchanged")]


def best_category(tables: tuple[Keywords, ...], facts: Facts) -> Keywords | None:
    """The category whose words occur most (a word in the subject counts twice); the first
    listed wins a tie."""
    subject = str(facts.get("ticket.subject") or "")
    body = str(facts.get("message.body") or "")
    best, best_score = None, 0
    for table in tables:
        score = 2 * table.hits(subject) + table.hits(body)
        if score > best_score:
            best, best_score = table, score
    return best


# -- telling people --------------------------------------------------------------------------
def _staff(env: Env) -> list[UserRead]:
    return [u for u in accounts.list_users(env.ctx) if u.is_active]


def recipients(env: Env, names: list[str]) -> list[UserRead]:
    """Users for assignee / team / supervisors / agent, without repeats."""
    staff = _staff(env)
    by_id = {u.id: u for u in staff}
    team = env.facts.get("ticket.team")
    agent = env.facts.get("agent.id")
    team_ids = set(by_id[agent].team_ids) if agent in by_id else ({team} if team else set())
    chosen: dict[int, UserRead] = {}
    for name in names:
        if name == "assignee" and env.facts.get("ticket.assignee") in by_id:
            chosen[env.facts["ticket.assignee"]] = by_id[env.facts["ticket.assignee"]]
        elif name == "agent" and agent in by_id:
            chosen[agent] = by_id[agent]
        elif name == "team":
            chosen |= {u.id: u for u in staff if team_ids & set(u.team_ids) and u.id != agent}
        elif name == "supervisors":
            leads = [u for u in staff if u.role == "supervisor"]
            near = [u for u in leads if team_ids & set(u.team_ids)]
            chosen |= {u.id: u for u in (near or leads)}
    return list(chosen.values())


def notify(env: Env, action: CompiledAction) -> list[R]:
    people = recipients(env, list(action.params["to"]))
    source = action.params.get("message")
    text = templates.render(str(source), env.context()) if source else env.name
    ticket_id = env.facts.get("ticket.id")
    if not people:
        return [_result("notify", detail="nobody to notify")]
    if not env.dry:
        data = {"rule": env.name, "message": text}
        notes = [
            NewNotification(user_id=u.id, kind="rule", ticket_id=ticket_id, data=data)
            for u in people
        ]
        notifications.notify(env.ctx, notes)
    return [_result("notify", detail=", ".join(u.name for u in people))]


def notify_email(env: Env, action: CompiledAction) -> list[R]:
    context = env.context()
    subject = templates.render(str(action.params["subject"]), context).strip()[:300]
    body = templates.render(str(action.params["body"]), context)
    addresses = email_addresses(env, list(action.params["to"]))
    if not addresses:
        return [_result("notify_email", detail="no email address to send to")]
    if not env.dry:
        for address in addresses:
            payload: dict[str, Any] = {"to": address, "subject": subject, "body": body}
            payload |= {"ticket_id": env.facts.get("ticket.id"), "rule": env.name}
            payload["key"] = secrets.randbelow(10**12) + 1  # the email's own Message-ID
            outbox.enqueue(env.ctx, EMAIL_KIND, payload, max_attempts=8)
    return [_result("notify_email", detail=", ".join(addresses), new=subject)]


def email_addresses(env: Env, names: list[str]) -> list[str]:
    found = {u.email: None for u in recipients(env, [n for n in names if "@" not in n])}
    customer = env.facts.get("customer")
    if "requester" in names and customer is not None and customer.email:
        found[customer.email] = None
    found |= {n: None for n in names if "@" in n}
    return list(found)


def webhook(env: Env, action: CompiledAction) -> list[R]:
    from kefu.webhooks import service as webhooks  # webhooks is a sibling feature

    data = {"rule": env.name, "rule_id": env.rule_id, "event": env.facts.get("event")}
    data |= {"ticket": _ticket_json(env.facts), "agent_id": env.facts.get("agent.id")}
    if not env.dry:
        ticket_id = env.facts.get("ticket.id")
        endpoint_id = int(action.params["endpoint_id"])
        webhooks.enqueue_one(env.ctx, endpoint_id, "rule.webhook", data, ticket_id)
    return [_result("webhook", detail=str(action.params["webhook"]))]


def _ticket_json(facts: Facts) -> dict[str, Any] | None:
    summary = facts.get("summary")
    return None if summary is None else summary.model_dump(mode="json")


def escalate(env: Env, action: CompiledAction) -> list[R]:
    p = action.params
    rank = int(env.facts["ticket.priority"])
    step = p["priority"]
    target = min(rank + 1, 3) if step == "raise" else PRIORITY_RANK[Priority(step)]
    results: list[R] = []
    changes: dict[str, Any] = {}
    if target > rank:
        changes["priority"] = RANK_PRIORITY[target].value
        results.append(
            _result(
                "escalate", field="priority", old=RANK_PRIORITY[rank].value, new=changes["priority"]
            )
        )
    if p["team_id"] is not None and p["team_id"] != env.facts.get("ticket.team"):
        changes["team_id"] = p["team_id"]
        results.append(_result("escalate", field="team", new=p["team"]))
    if changes:
        _update(env, TicketUpdate(**changes))
    if p["notify"]:
        notice = CompiledAction("notify", {"to": p["notify"], "message": None})
        results += notify(env, notice)
    return results or [_result("escalate", detail="already escalated")]


def send_survey(env: Env, action: CompiledAction) -> list[R]:
    """A satisfaction survey: its link posted to the customer as a system message (the
    same survey again while it waits for an answer)."""
    from kefu.surveys import service as surveys  # surveys build on tickets; imported here

    if env.dry:
        return [_result("send_survey", detail="survey link sent to the customer")]
    survey = surveys.request_survey(env.ctx, env.ticket_id, env.rule_id)
    return [_result("send_survey", detail=f"survey {survey.id} link sent to the customer")]


_DO: dict[str, Callable[[Env, CompiledAction], list[R]]] = {
    "set_field": set_field,
    "assign": assign,
    "add_tags": tags,
    "remove_tags": tags,
    "add_note": message,
    "reply": message,
    "classify": classify,
    "notify": notify,
    "notify_email": notify_email,
    "webhook": webhook,
    "escalate": escalate,
    "send_survey": send_survey,
}


# -- template context ------------------------------------------------------------------------
def template_context(facts: Facts, name: str, actor: Principal | None) -> dict[str, Any]:
    summary = facts.get("summary")
    customer = facts.get("customer")
    context: dict[str, Any] = {
        "rule": {"name": name},
        "event": {"name": facts.get("event") or ""},
        "agent": templates.person(actor.name if actor else "", actor.email if actor else ""),
    }
    if summary is not None:
        context["ticket"] = summary.model_dump(
            mode="json",
            include={
                "id",
                "subject",
                "status",
                "priority",
                "type",
                "category",
                "channel",
                "language",
                "tags",
                "custom_fields",
            },
        ) | {"url": f"/tickets/{summary.id}"}
        requester = summary.requester
        email = customer.email if customer is not None else requester.email
        context["requester"] = templates.person(requester.name, email)
        assignee = summary.assignee
        context["assignee"] = templates.person(assignee.name if assignee else "")
        context["team"] = {"name": summary.team.name if summary.team else ""}
    if facts.get("agent") is not None:
        user = facts["agent"]
        context["agent"] = templates.person(user.name, user.email)
    return context


def is_failure(exc: BaseException) -> bool:
    """Errors an action may meet that are the action's fault, not kefu's."""
    return isinstance(exc, DomainError | ActionFailed | templates.TemplateProblem)
