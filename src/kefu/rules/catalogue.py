"""What rules can listen to, look at and do: the events, the condition fields with their
operators, and the actions. The console's pick-lists, the validator and the compiler all
read these tables, so a field or an action exists in one place.

A rule is about a *subject*: a ticket (every ticket event, and time automations) or an
agent (``routing.agent.state``). Conditions and actions must fit the subject.
"""

from __future__ import annotations

from dataclasses import dataclass

from kefu.routing.core import AgentState
from kefu.tickets.models import Priority, Status, TicketType
from kefu.web.i18n import N_

TICKET, AGENT = "ticket", "agent"
TIME = "time"  # the trigger of time automations (the worker checks open tickets)


@dataclass(frozen=True)
class EventSpec:
    name: str
    subject: str
    label: str
    note: str = ""


EVENTS: dict[str, EventSpec] = {
    e.name: e
    for e in (
        EventSpec("ticket.created", TICKET, N_("Ticket created")),
        EventSpec("ticket.updated", TICKET, N_("Ticket updated")),
        EventSpec("message.created", TICKET, N_("Message added (received or sent)")),
        EventSpec("sla.warning", TICKET, N_("SLA warning")),
        EventSpec("sla.breached", TICKET, N_("SLA breached")),
        EventSpec(
            "survey.rated",
            TICKET,
            N_("Survey rated"),
            N_("Fires when a customer rates a satisfaction survey (or changes the rating)."),
        ),
        EventSpec("routing.agent.state", AGENT, N_("Agent state changed")),
    )
}
SUBJECT_OF_TRIGGER = {**{name: e.subject for name, e in EVENTS.items()}, TIME: TICKET}

# Value kinds and the operators each accepts.
TEXT, CHOICE, ORDERED, NUMBER, SET, BOOL, DURATION, DATE, TEAM, USER = (
    "text",
    "choice",
    "ordered",
    "number",
    "set",
    "bool",
    "duration",
    "date",
    "team",
    "user",
)
EMPTY_OPS = ("is_empty", "is_present")
OPS: dict[str, tuple[str, ...]] = {
    TEXT: (
        *("contains", "not_contains", "starts_with", "is", "is_not", "matches", "not_matches"),
        *EMPTY_OPS,
    ),
    CHOICE: ("is", "is_not", "in", "not_in", *EMPTY_OPS),
    ORDERED: ("is", "is_not", "in", "not_in", "gt", "gte", "lt", "lte"),
    NUMBER: ("is", "is_not", "gt", "gte", "lt", "lte", *EMPTY_OPS),
    SET: ("includes", "includes_all", "excludes", *EMPTY_OPS),
    BOOL: ("is",),
    DURATION: ("gt", "gte", "lt", "lte"),
    DATE: ("is", "gt", "gte", "lt", "lte", *EMPTY_OPS),
    TEAM: ("is", "is_not", "in", "not_in", *EMPTY_OPS),
    USER: ("is", "is_not", "in", "not_in", *EMPTY_OPS),
}
OP_LABELS = {
    "contains": N_("contains any of"),
    "not_contains": N_("contains none of"),
    "starts_with": N_("starts with"),
    "is": N_("is"),
    "is_not": N_("is not"),
    "in": N_("is one of"),
    "not_in": N_("is none of"),
    "matches": N_("matches the pattern"),
    "not_matches": N_("does not match the pattern"),
    "is_empty": N_("is empty"),
    "is_present": N_("is not empty"),
    "gt": N_("is more than"),
    "gte": N_("is at least"),
    "lt": N_("is less than"),
    "lte": N_("is at most"),
    "includes": N_("include any of"),
    "includes_all": N_("include all of"),
    "excludes": N_("include none of"),
}
UNITS = {
    "minutes": 60,
    "hours": 3600,
    "days": 86_400,
    "business_hours": 3600,
    "business_days": 0,  # counted in the calendar's working days
}
UNIT_LABELS = {
    "minutes": N_("minutes"),
    "hours": N_("hours"),
    "days": N_("days"),
    "business_hours": N_("business hours"),
    "business_days": N_("business days"),
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str
    label: str
    subject: str = TICKET
    events: frozenset[str] | None = None  # None: every trigger of its subject
    choices: tuple[str, ...] = ()
    open_choices: bool = False  # other values than the listed ones are accepted
    needs: str = "ticket"  # which facts must be loaded: ticket, message, customer, time


_MESSAGE_EVENTS = frozenset({"message.created", "ticket.created"})
_SLA_EVENTS = frozenset({"sla.warning", "sla.breached"})
_SURVEY = frozenset({"survey.rated"})
# The names the tickets service gives changed fields (``update.changed``).
CHANGEABLE = (
    *("status", "priority", "type", "category", "language", "subject", "tags", "team_id"),
    *("assignee_id", "requester_id", "follower_ids", "first_responded_at"),
)
CHANNELS = ("email", "webchat", "webform", "whatsapp", "telegram", "wechat", "sms", "voice", "api")
_STATUSES = tuple(s.value for s in Status)
_AGENT_STATES = tuple(s.value for s in AgentState)

FIELDS: dict[str, FieldSpec] = {
    f.name: f
    for f in (
        FieldSpec("ticket.subject", TEXT, N_("Subject")),
        FieldSpec("ticket.text", TEXT, N_("Subject or message text"), needs="message"),
        FieldSpec("ticket.status", CHOICE, N_("Status"), choices=_STATUSES),
        FieldSpec("ticket.priority", ORDERED, N_("Priority"), choices=tuple(Priority)),
        FieldSpec("ticket.type", CHOICE, N_("Type"), choices=tuple(TicketType)),
        FieldSpec("ticket.category", TEXT, N_("Category")),
        FieldSpec("ticket.channel", CHOICE, N_("Channel"), choices=CHANNELS, open_choices=True),
        FieldSpec(
            "ticket.language", CHOICE, N_("Language"), choices=("en", "zh_CN"), open_choices=True
        ),
        FieldSpec("ticket.tags", SET, N_("Tags")),
        FieldSpec("ticket.team", TEAM, N_("Team")),
        FieldSpec("ticket.assignee", USER, N_("Assignee")),
        FieldSpec("ticket.since_created", DURATION, N_("Time since created")),
        FieldSpec("ticket.since_updated", DURATION, N_("Time since last update")),
        FieldSpec("ticket.since_status", DURATION, N_("Time in the current status"), needs="time"),
        FieldSpec("ticket.since_solved", DURATION, N_("Time since solved")),
        FieldSpec(
            "customer.tier",
            CHOICE,
            N_("Customer tier"),
            choices=("standard", "vip"),
            open_choices=True,
            needs="customer",
        ),
        FieldSpec(
            "customer.language",
            CHOICE,
            N_("Customer language"),
            choices=("en", "zh_CN"),
            open_choices=True,
            needs="customer",
        ),
        FieldSpec("customer.tags", SET, N_("Customer tags"), needs="customer"),
        FieldSpec("customer.email", TEXT, N_("Customer email"), needs="customer"),
        FieldSpec(
            "message.body", TEXT, N_("Message text"), events=_MESSAGE_EVENTS, needs="message"
        ),
        FieldSpec(
            "message.author_type",
            CHOICE,
            N_("Message author"),
            events=_MESSAGE_EVENTS,
            choices=("customer", "agent", "system"),
            needs="message",
        ),
        FieldSpec(
            "message.visibility",
            CHOICE,
            N_("Message kind"),
            events=_MESSAGE_EVENTS,
            choices=("public", "note"),
            needs="message",
        ),
        FieldSpec(
            "update.changed",
            SET,
            N_("Fields this update changed"),
            events=frozenset({"ticket.updated"}),
            choices=CHANGEABLE,
            open_choices=True,  # custom_fields.KEY too
        ),
        FieldSpec(
            "sla.metric",
            CHOICE,
            N_("SLA target"),
            events=_SLA_EVENTS,
            choices=("first_response", "next_response", "resolution"),
        ),
        FieldSpec("survey.rating", NUMBER, N_("Survey rating"), events=_SURVEY),
        FieldSpec("survey.comment", TEXT, N_("Survey comment"), events=_SURVEY),
        FieldSpec("now.business_hours", BOOL, N_("Within business hours"), needs="none"),
        FieldSpec("agent.state", CHOICE, N_("Agent state"), AGENT, choices=_AGENT_STATES),
        FieldSpec(
            "agent.previous", CHOICE, N_("Previous agent state"), AGENT, choices=_AGENT_STATES
        ),
        FieldSpec("agent.reason", TEXT, N_("Break reason"), AGENT),
        FieldSpec("agent.teams", SET, N_("Agent's teams"), AGENT),
    )
}
CUSTOM_PREFIX = "ticket.custom_fields."
ATTRIBUTE_PREFIX = "customer.attributes."
# A custom field's type decides its value kind.
CUSTOM_KINDS = {
    "text": TEXT,
    "number": NUMBER,
    "date": DATE,
    "select": CHOICE,
    "multi_select": SET,
    "checkbox": BOOL,
}


@dataclass(frozen=True)
class ActionSpec:
    type: str
    label: str
    subjects: frozenset[str]
    in_macros: bool = False


_BOTH = frozenset({TICKET, AGENT})
_TICKET = frozenset({TICKET})
ACTIONS: dict[str, ActionSpec] = {
    a.type: a
    for a in (
        ActionSpec("set_field", N_("Set a field"), _TICKET, True),
        ActionSpec("assign", N_("Assign to a team, agent or queue"), _TICKET, True),
        ActionSpec("add_tags", N_("Add tags"), _TICKET, True),
        ActionSpec("remove_tags", N_("Remove tags"), _TICKET, True),
        ActionSpec("add_note", N_("Add an internal note"), _TICKET, True),
        ActionSpec("reply", N_("Reply to the customer"), _TICKET, True),
        ActionSpec("classify", N_("Classify by keywords"), _TICKET, True),
        ActionSpec("notify", N_("Notify in kefu"), _BOTH),
        ActionSpec("notify_email", N_("Notify by email"), _BOTH),
        ActionSpec("webhook", N_("Call a webhook"), _BOTH),
        ActionSpec("escalate", N_("Escalate"), _TICKET),
        ActionSpec("send_survey", N_("Send a satisfaction survey"), _TICKET),
    )
}
SETTABLE = {
    "status": tuple(s.value for s in Status if s is not Status.new),
    "priority": tuple(Priority),
    "type": tuple(TicketType),
    "category": (),
    "language": ("en", "zh_CN"),
}
RECIPIENTS = ("requester", "assignee", "team", "supervisors")
PRIORITY_STEPS = ("raise", *tuple(Priority))
MAX_DEPTH = 5  # a chain of rules firing on each other's changes stops after this many
