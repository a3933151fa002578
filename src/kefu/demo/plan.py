"""What the demo contains, decided up front from a seeded random generator.

Planning is pure (no database): the same seed and sizes give the same people, customers and
ticket stories; ``loader.py`` then plays the plan through the real services.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from kefu.accounts.models import Role
from kefu.tickets.models import Priority, Status

ADMIN_EMAIL = "admin@kefu.local"
MODELS = ["KF-100", "KF-200", "KF-300 Pro", "KF-Mini", "KF-Hub"]
MEMBERSHIP = ["bronze", "silver", "gold", "platinum"]
DAYS = 90
MAX_MESSAGES = 8


@dataclass(frozen=True)
class StaffMember:
    email: str
    name: str
    role: Role
    teams: tuple[str, ...]
    language: str
    time_zone: str


TEAMS = {
    "support": ("Support 售后", "After-sales: orders, refunds, invoices, faults 售后服务", False),
    "sales": ("Sales 销售", "Quotes, plans and business customers 销售与大客户 (private)", True),
}
STAFF = [
    StaffMember(ADMIN_EMAIL, "Admin 管理员", Role.admin, (), "zh_CN", "Asia/Shanghai"),
    StaffMember(
        "zhou.min@kefu.local",
        "周敏",
        Role.supervisor,
        ("support", "sales"),
        "zh_CN",
        "Asia/Shanghai",
    ),
    StaffMember("li.na@kefu.local", "李娜", Role.agent, ("support",), "zh_CN", "Asia/Shanghai"),
    StaffMember("chen.jie@kefu.local", "陈杰", Role.agent, ("support",), "zh_CN", "Asia/Shanghai"),
    StaffMember(
        "emma.clarke@kefu.local", "Emma Clarke", Role.agent, ("support",), "en", "Europe/London"
    ),
    StaffMember("wang.lei@kefu.local", "王磊", Role.agent, ("sales",), "zh_CN", "Asia/Shanghai"),
    StaffMember("zhao.ting@kefu.local", "赵婷", Role.agent, ("sales",), "zh_CN", "Asia/Shanghai"),
    StaffMember(
        "lucas.martin@kefu.local", "Lucas Martin", Role.agent, ("sales",), "en", "Europe/Paris"
    ),
    StaffMember(
        "liu.qiang@kefu.local", "刘强", Role.field_engineer, ("support",), "zh_CN", "Asia/Shanghai"
    ),
]

# How a ticket of a given age has usually ended up (new, open, pending, on_hold, solved, closed).
_STATUS_BY_AGE = [
    (2, [35, 35, 15, 5, 10, 0]),
    (14, [5, 25, 20, 10, 30, 10]),
    (DAYS + 1, [1, 8, 6, 4, 31, 50]),
]
_STATUSES = list(Status)
_PRIORITIES = [Priority.low, Priority.normal, Priority.high, Priority.urgent]


@dataclass
class CompanyPlan:
    name: str
    domain: str | None
    tier: str


@dataclass
class CustomerPlan:
    name: str
    lang: str
    identities: list[tuple[str, str]]
    company: int | None
    tier: str
    membership: str
    time_zone: str
    tags: list[str]


@dataclass
class Step:
    """One message after the first: by the customer, an agent's reply, or an internal note."""

    kind: str
    text: str
    delay: timedelta
    status: Status | None = None


@dataclass
class TicketPlan:
    created: datetime
    customer: int
    lang: str
    team: str
    subject: str
    body: str
    channel: str
    priority: Priority
    status: Status
    tags: list[str]
    custom: dict[str, Any]
    assignee: str | None
    steps: list[Step] = field(default_factory=list)
    close_after: timedelta | None = None


@dataclass
class DemoPlan:
    start: datetime
    companies: list[CompanyPlan]
    customers: list[CustomerPlan]
    tickets: list[TicketPlan]
    now: datetime
    desk: dict[str, Any]


def content() -> dict[str, Any]:
    text = resources.files("kefu.demo").joinpath("content.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def make_plan(now: datetime, *, tickets: int, customers: int, seed: int) -> DemoPlan:
    rng = random.Random(seed)
    data = content()
    companies = _companies(rng, data, max(1, min(40, customers // 5)))
    people = [_customer(rng, data, i, len(companies)) for i in range(customers)]
    stories = sorted(
        (_ticket(rng, data, now, people) for _ in range(tickets)), key=lambda t: t.created
    )
    start = now - timedelta(days=DAYS + 1)
    return DemoPlan(start, companies, people, stories, now, _desk(data, start, now))


# -- the desk's configuration: calendar, SLA, routing, canned replies, rules, macros -------
def _desk(data: dict[str, Any], start: datetime, now: datetime) -> dict[str, Any]:
    """The ``desk`` part of content.json, with the calendar's yearly public holidays dated
    for every year the demo's history touches (and the next one)."""
    desk = dict(data["desk"])
    yearly = desk.pop("holidays")
    holidays = [
        {"date": f"{year}-{h['from']}", "end": f"{year}-{h['to']}", "name": h["name"]}
        for year in range(start.year, now.year + 2)
        for h in yearly
    ]
    desk["calendar"] = desk["calendar"] | {"holidays": holidays}
    return desk


# -- companies and customers -------------------------------------------------------------
def _companies(rng: random.Random, data: dict[str, Any], count: int) -> list[CompanyPlan]:
    names = [(n, "zh") for n in data["companies"]["zh"]] + [
        (n, "en") for n in data["companies"]["en"]
    ]
    rng.shuffle(names)
    plans = []
    for index, (name, lang) in enumerate(names[:count]):
        slug = "".join(c for c in name.lower() if c.isascii() and c.isalnum())
        domain = f"{slug}.example.com" if lang == "en" else f"corp{index + 1}.example.cn"
        tier = rng.choices(["standard", "enterprise", "VIP"], [60, 30, 10])[0]
        plans.append(CompanyPlan(name, domain, tier))
    return plans


def _customer(rng: random.Random, data: dict[str, Any], index: int, companies: int) -> CustomerPlan:
    lang = "zh" if rng.random() < 0.6 else "en"
    if lang == "zh":
        (surname, s_py), (given, g_py) = (
            rng.choice(data["people"]["zh"]["surnames"]),
            rng.choice(data["people"]["zh"]["given"]),
        )
        name, handle = surname + given, f"{s_py}.{g_py}"
    else:
        first, last = (
            rng.choice(data["people"]["en"]["first"]),
            rng.choice(data["people"]["en"]["last"]),
        )
        name, handle = f"{first} {last}", f"{first}.{last}".lower().replace("ü", "ue")
    vip = rng.random() < 0.1
    return CustomerPlan(
        name=name,
        lang=lang,
        identities=_identities(rng, data, index, lang, handle),
        company=rng.randrange(companies) if companies and rng.random() < 0.6 else None,
        tier="VIP" if vip else "standard",
        membership=rng.choice(MEMBERSHIP[2:] if vip else MEMBERSHIP),
        time_zone="Asia/Shanghai"
        if lang == "zh"
        else rng.choice(["Europe/London", "America/New_York", "Europe/Berlin"]),
        tags=["vip"] if vip else [],
    )


def _identities(
    rng: random.Random, data: dict[str, Any], index: int, lang: str, handle: str
) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if rng.random() < 0.9:
        found.append(("email", f"{handle}{index + 1}@{rng.choice(data['domains'])}"))
    if lang == "zh":
        # index * 48271 mod 10^8 is one-to-one, so numbers look random yet never repeat
        prefix = rng.choice(["38", "39", "50", "86", "88"])
        mobile = f"+86 1{prefix}{index * 48271 % 10**8:08d}"
        if rng.random() < 0.7:
            found.append(("phone", mobile))
        if rng.random() < 0.5:
            found.append(("wechat", "o" + _random_id(rng, 27)))
    else:
        mobile = f"+44 7700 9{index * 48271 % 10**5:05d}"
        if rng.random() < 0.4:
            found.append(("whatsapp", mobile))
        if rng.random() < 0.3:
            found.append(("phone", mobile))
    if rng.random() < 0.15:
        found.append(("telegram", str(100_000_000 + index * 7919 + rng.randrange(7919))))
    return found or [("email", f"{handle}{index + 1}@example.com")]


def _random_id(rng: random.Random, length: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    return "".join(rng.choice(alphabet) for _ in range(length))


# -- tickets -----------------------------------------------------------------------------
def _ticket(
    rng: random.Random, data: dict[str, Any], now: datetime, people: list[CustomerPlan]
) -> TicketPlan:
    customer = rng.randrange(len(people))
    person = people[customer]
    topic = rng.choice(data["topics"])
    text = topic[person.lang]
    age = timedelta(days=DAYS * rng.random() ** 1.4, minutes=30)
    created = now - age
    values = _placeholders(rng, person, created)
    status = _status(rng, age)
    priority = _priority(rng, person.tier == "VIP")
    ticket = TicketPlan(
        created=created,
        customer=customer,
        lang=person.lang,
        team=topic["team"],
        subject=rng.choice(text["subjects"]).format(**values),
        body=rng.choice(text["bodies"]).format(**values),
        channel=_channel(rng, person),
        priority=priority,
        status=status,
        tags=sorted(
            set(topic["tags"] + person.tags + (["urgent"] if priority is Priority.urgent else []))
        ),
        custom=_custom(rng, topic["key"], values),
        assignee=_assignee(rng, topic, status),
    )
    _story(rng, data["replies"][person.lang], ticket, person.name, now - created)
    return ticket


def _placeholders(rng: random.Random, person: CustomerPlan, created: datetime) -> dict[str, str]:
    day = created - timedelta(days=rng.randint(1, 6))
    date = f"{day.month}月{day.day}日" if person.lang == "zh" else f"{day.day} {day:%b}"
    return {"order": f"SO{rng.randrange(10**9, 10**10)}", "model": rng.choice(MODELS), "date": date}


def _status(rng: random.Random, age: timedelta) -> Status:
    weights = next(w for days, w in _STATUS_BY_AGE if age < timedelta(days=days))
    return rng.choices(_STATUSES, weights)[0]


def _priority(rng: random.Random, vip: bool) -> Priority:
    rank = rng.choices(range(4), [15, 55, 22, 8])[0]
    if vip and rank < 3 and rng.random() < 0.5:
        rank += 1
    return _PRIORITIES[rank]


def _channel(rng: random.Random, person: CustomerPlan) -> str:
    kinds = {kind for kind, _ in person.identities}
    options = ["web"] + [k for k in ("email", "whatsapp", "wechat", "telegram") if k in kinds]
    if "phone" in kinds:
        options += ["sms", "voice"]
    return rng.choice(options + (["email"] if "email" in kinds else []))


def _custom(rng: random.Random, topic: str, values: dict[str, str]) -> dict[str, Any]:
    custom: dict[str, Any] = {}
    if topic in ("order_status", "refund", "invoice", "delivery") or rng.random() < 0.1:
        custom["order_number"] = values["order"]
    if topic in ("product_fault", "installation", "refund", "quote"):
        custom["product_model"] = values["model"]
    if topic in ("product_fault", "installation"):
        custom["warranty"] = rng.random() < 0.7
    return custom


def _assignee(rng: random.Random, topic: dict[str, Any], status: Status) -> str | None:
    if status is Status.new and rng.random() < 0.7:
        return None
    if topic.get("onsite") and rng.random() < 0.6:
        return next(s.email for s in STAFF if s.role is Role.field_engineer)
    return rng.choice(agents_of(topic["team"]))


def agents_of(team: str) -> list[str]:
    return [s.email for s in STAFF if s.role is Role.agent and team in s.teams]


def _story(
    rng: random.Random,
    replies: dict[str, list[str]],
    ticket: TicketPlan,
    name: str,
    room: timedelta,
) -> None:
    """The messages after the first, ending in the ticket's planned status."""
    steps = ticket.steps
    if ticket.status is Status.new:
        if rng.random() < 0.3:
            steps.append(Step("customer", rng.choice(replies["customer"][:3]), _wait(rng, 240)))
        if rng.random() < 0.2:
            steps.append(Step("note", rng.choice(replies["note"]), _wait(rng, 20)))
    else:
        ending = _ending(rng, replies, ticket.status)
        steps.append(Step("reply", rng.choice(replies["agent"]).format(name=name), _wait(rng, 90)))
        if rng.random() < 0.3:
            steps.append(Step("note", rng.choice(replies["note"]), _wait(rng, 20)))
        for _ in range(rng.randint(0, 2)):
            if len(steps) + 2 + len(ending) > MAX_MESSAGES - 1:
                break
            steps.append(Step("customer", rng.choice(replies["customer"][:3]), _wait(rng, 240)))
            steps.append(
                Step("reply", rng.choice(replies["agent"]).format(name=name), _wait(rng, 90))
            )
        steps.extend(ending)
    if ticket.status is Status.closed:
        ticket.close_after = timedelta(days=rng.uniform(2, 7))
    _fit(ticket, room - timedelta(minutes=5))


def _ending(rng: random.Random, replies: dict[str, list[str]], status: Status) -> list[Step]:
    if status is Status.open:
        if rng.random() < 0.5:
            return [Step("customer", rng.choice(replies["customer"][:3]), _wait(rng, 240))]
        return []
    if status is Status.pending:
        return [Step("reply", rng.choice(replies["waiting"]), _wait(rng, 60), Status.pending)]
    if status is Status.on_hold:
        return [Step("note", rng.choice(replies["note"]), _wait(rng, 30), Status.on_hold)]
    solved = Step("reply", rng.choice(replies["solved"]), _wait(rng, 120), Status.solved)
    if rng.random() < 0.4:
        return [Step("customer", replies["customer"][3], _wait(rng, 120)), solved]
    return [solved]


def _wait(rng: random.Random, typical_minutes: float) -> timedelta:
    minutes = min(rng.lognormvariate(math.log(typical_minutes), 1.0), 3 * 24 * 60)
    return timedelta(minutes=max(1.0, minutes))


def _fit(ticket: TicketPlan, room: timedelta) -> None:
    """Squeeze the story's delays so its last event happens before now."""
    total = sum((s.delay for s in ticket.steps), ticket.close_after or timedelta())
    if total <= room or total <= timedelta():
        return
    factor = max(room, timedelta()) / total
    for step in ticket.steps:
        step.delay *= factor
    if ticket.close_after is not None:
        ticket.close_after *= factor
