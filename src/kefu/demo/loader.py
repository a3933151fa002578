"""`kefu demo`: a small help desk with a few months of history, loaded through the services.

The plan (``plan.py``) is played in one write transaction, so a failed load leaves nothing
behind and a second run finds the admin and changes nothing. Services take their times
from ``ctx.clock``; the loader hands them a clock it moves along each ticket's story, so
tickets and messages carry realistic times over the last 90 days.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kefu.accounts import service as accounts
from kefu.accounts.schemas import TeamCreate, UserCreate
from kefu.calendars import service as calendars
from kefu.calendars.schemas import CalendarIn
from kefu.canned import service as canned
from kefu.canned.schemas import CannedReplyCreate
from kefu.customers import service as customers
from kefu.customers.models import IdentityKind
from kefu.customers.schemas import CompanyCreate, CustomerCreate, IdentityIn
from kefu.db import Ctx
from kefu.demo.plan import (
    ADMIN_EMAIL,
    MEMBERSHIP,
    MODELS,
    STAFF,
    TEAMS,
    CompanyPlan,
    CustomerPlan,
    DemoPlan,
    TicketPlan,
    agents_of,
    make_plan,
)
from kefu.fields import service as fields
from kefu.fields.models import FieldEntity, FieldType
from kefu.fields.schemas import FieldDefinitionCreate
from kefu.kit.errors import NotFound
from kefu.kit.time import FrozenClock
from kefu.outbox import service as outbox
from kefu.routing import queues, work
from kefu.routing import service as seats
from kefu.routing.schemas import BreakReasonIn, QueueCreate, SeatUpdate
from kefu.rules import macros
from kefu.rules import service as rules
from kefu.rules.schemas import MacroIn, RuleIn
from kefu.runtime import Runtime
from kefu.security.permissions import Principal
from kefu.sla import policies
from kefu.sla.schemas import PolicyIn
from kefu.tickets import conversation
from kefu.tickets import service as tickets
from kefu.tickets.models import DeliveryStatus, Status, Visibility
from kefu.tickets.schemas import MessageCreate, RequesterIn, TicketCreate, TicketUpdate

PASSWORD_FILE = "demo-password"

FIELDS = [
    FieldDefinitionCreate(
        entity=FieldEntity.ticket,
        key="product_model",
        label="Product model",
        translations={"zh_CN": "产品型号"},
        type=FieldType.select,
        options=MODELS,
        position=1,
    ),
    FieldDefinitionCreate(
        entity=FieldEntity.ticket,
        key="order_number",
        label="Order number",
        translations={"zh_CN": "订单号"},
        type=FieldType.text,
        position=2,
    ),
    FieldDefinitionCreate(
        entity=FieldEntity.ticket,
        key="warranty",
        label="Under warranty",
        translations={"zh_CN": "在保修期内"},
        type=FieldType.checkbox,
        position=3,
    ),
    FieldDefinitionCreate(
        entity=FieldEntity.customer,
        key="membership_level",
        label="Membership level",
        translations={
            "zh_CN": "会员等级",
            "options": {
                "zh_CN": {"bronze": "铜卡", "silver": "银卡", "gold": "金卡", "platinum": "白金卡"}
            },
        },
        type=FieldType.select,
        options=MEMBERSHIP,
    ),
]


@dataclass
class Loaded:
    users: int
    companies: int
    customers: int
    tickets: int
    messages: int


@dataclass
class _Ids:
    teams: dict[str, int]
    principals: dict[str, Principal]
    customers: list[int]
    waiting: list[int] = field(default_factory=list)  # tickets nobody took: for the queues


def load_demo(
    runtime: Runtime, *, tickets: int = 1000, customers: int = 200, seed: int = 7
) -> list[str]:
    """Load the demo data unless it is there already; the lines to print, login included."""
    password_file = runtime.settings.data_dir / PASSWORD_FILE
    if runtime.db.run_read(_already_loaded):
        return [
            "The demo data is already there; nothing was changed.",
            *_login(runtime, password_file),
        ]
    password = _password(password_file)
    plan = make_plan(runtime.clock.now(), tickets=tickets, customers=customers, seed=seed)
    started = time.monotonic()
    loaded = runtime.db.run_write(_load, plan, password)
    took = time.monotonic() - started
    return [
        f"Demo data loaded in {took:.1f} s: {loaded.users} users in {len(TEAMS)} teams, "
        f"{loaded.companies} companies, {loaded.customers} customers, "
        f"{loaded.tickets} tickets with {loaded.messages} messages.",
        _desk_summary(plan.desk),
        *_login(runtime, password_file),
    ]


def _desk_summary(desk: dict[str, Any]) -> str:
    return (
        f"Configured: a business calendar, {len(desk['sla_policies'])} SLA policies, "
        f"{len(desk['queues'])} routing queues, {len(desk['rules'])} rules, "
        f"{len(desk['macros'])} macros, {len(desk['canned'])} canned replies."
    )


def _already_loaded(ctx: Ctx) -> bool:
    try:
        accounts.user_id_by_email(ctx, ADMIN_EMAIL)
    except NotFound:
        return False
    return True


def _password(path: Path) -> str:
    """One password for every demo user, kept in the data dir so a rerun can print it."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    password = "demo-" + secrets.token_urlsafe(9)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(password + "\n", encoding="utf-8")
    path.chmod(0o600)
    return password


def _login(runtime: Runtime, password_file: Path) -> list[str]:
    settings = runtime.settings
    if password_file.exists():
        secret = password_file.read_text(encoding="utf-8").strip()
    else:
        secret = "(the one printed when the demo data was loaded)"
    others = ", ".join(s.email for s in STAFF[1:4])
    return [
        f"Sign in at http://{settings.host}:{settings.port}/ as {ADMIN_EMAIL}"
        f" with password {secret}",
        f"The other demo users ({others}, ...) have the same password.",
    ]


# -- the one write transaction -----------------------------------------------------------
def _load(ctx: Ctx, plan: DemoPlan, password: str) -> Loaded:
    clock = FrozenClock(plan.start)
    demo = dataclasses.replace(ctx, clock=clock)
    teams = {
        key: accounts.create_team(demo, TeamCreate(name=name, description=text, private=private)).id
        for key, (name, text, private) in TEAMS.items()
    }
    principals = _staff(demo, teams, password)
    for definition in FIELDS:
        fields.create_definition(demo, definition)
    _sla(demo, plan.desk, principals[ADMIN_EMAIL])  # before the tickets: they get targets
    company_ids = [_company(demo, c) for c in plan.companies]
    customer_ids = [_customer(demo, c, company_ids) for c in plan.customers]
    ids = _Ids(teams, principals, customer_ids)
    messages = sum(_ticket(demo, clock, ids, t) for t in plan.tickets)
    clock.set(plan.now)
    _routing(demo, plan.desk, ids)
    _canned_and_rules(demo, plan.desk, principals[ADMIN_EMAIL])
    return Loaded(len(STAFF), len(company_ids), len(customer_ids), len(plan.tickets), messages)


def _staff(ctx: Ctx, team_ids: dict[str, int], password: str) -> dict[str, Principal]:
    principals = {}
    for member in STAFF:
        user = accounts.create_user(
            ctx,
            UserCreate(
                email=member.email,
                name=member.name,
                role=member.role,
                password=password,
                language=member.language,
                time_zone=member.time_zone,
                team_ids=[team_ids[t] for t in member.teams],
            ),
        )
        principals[member.email] = accounts.principal_for_user(ctx, user.id)
    return principals


def _sla(ctx: Ctx, desk: dict[str, Any], admin: Principal) -> None:
    calendars.create_calendar(ctx, admin, CalendarIn.model_validate(desk["calendar"]))
    for policy in desk["sla_policies"]:
        policies.create_policy(ctx, admin, PolicyIn.model_validate(policy))


def _routing(ctx: Ctx, desk: dict[str, Any], ids: _Ids) -> None:
    """Break reasons, seats (left offline: nothing is offered until an agent says they are
    available) and queues; the tickets nobody took wait in their team's queue."""
    for reason in desk["break_reasons"]:
        seats.create_reason(ctx, BreakReasonIn.model_validate(reason))
    for email, seat in desk["seats"].items():
        seats.update_seat(ctx, ids.principals[email].user_id, SeatUpdate.model_validate(seat))
    for queue in desk["queues"]:
        settings = {k: v for k, v in queue.items() if k != "team"}
        data = QueueCreate.model_validate(settings | {"team_id": ids.teams[queue["team"]]})
        queues.create_queue(ctx, data)
    for ticket_id in ids.waiting:
        work.enqueue_ticket(ctx, ticket_id)


def _canned_and_rules(ctx: Ctx, desk: dict[str, Any], admin: Principal) -> None:
    """Created last: a rule listens to the ticket events that come after it, so the
    history loaded above fires none (its auto-replies would all go out at once)."""
    for reply in desk["canned"]:
        canned.create_reply(ctx, admin, CannedReplyCreate.model_validate(reply))
    for macro in desk["macros"]:
        macros.create_macro(ctx, admin, MacroIn.model_validate(macro))
    for rule in desk["rules"]:
        rules.create_rule(ctx, admin, RuleIn.model_validate(rule))


def _company(ctx: Ctx, company: CompanyPlan) -> int:
    data = CompanyCreate(name=company.name, domain=company.domain, tier=company.tier)
    return customers.create_company(ctx, data).id


def _customer(ctx: Ctx, person: CustomerPlan, company_ids: list[int]) -> int:
    data = CustomerCreate(
        name=person.name,
        identities=[IdentityIn(kind=IdentityKind(k), value=v) for k, v in person.identities],
        company_id=company_ids[person.company] if person.company is not None else None,
        tier=person.tier,
        language="zh_CN" if person.lang == "zh" else "en",
        time_zone=person.time_zone,
        tags=person.tags,
        attributes={"membership_level": person.membership},
    )
    return customers.create_customer(ctx, data).id


def _ticket(ctx: Ctx, clock: FrozenClock, ids: _Ids, plan: TicketPlan) -> int:
    """Play one ticket's story; returns how many messages it has."""
    clock.set(plan.created)
    created = tickets.create_ticket(ctx, _creator(ids, plan), _ticket_create(ids, plan))
    if plan.assignee is None:
        ids.waiting.append(created.id)
    agent = ids.principals[plan.assignee or agents_of(plan.team)[0]]
    for step in plan.steps:
        clock.advance(seconds=step.delay.total_seconds())
        if step.kind == "customer":
            message = MessageCreate(body=step.text, author_type="customer")
            conversation.add_message(ctx, None, created.id, message)
            continue
        visibility = Visibility.note if step.kind == "note" else Visibility.public
        message = MessageCreate(body=step.text, visibility=visibility, status=step.status)
        reply = conversation.add_message(ctx, agent, created.id, message)
        if reply.delivery_status == DeliveryStatus.queued:
            _delivered_in_the_story(ctx, reply.id)
    if plan.close_after is not None:
        clock.advance(seconds=plan.close_after.total_seconds())
        tickets.update_ticket(ctx, agent, created.id, TicketUpdate(status=Status.closed))
    return 1 + len(plan.steps)


def _delivered_in_the_story(ctx: Ctx, message_id: int) -> None:
    """The story's replies reached the customer when they were written; queued, they would
    all go out (to made-up addresses) when kefu serve starts."""
    item_id = outbox.item_for_key(ctx, tickets.message_key(message_id))
    if item_id is not None:
        outbox.mark_sent(ctx, item_id)
    conversation.set_delivery(ctx, message_id, DeliveryStatus.delivered)


def _creator(ids: _Ids, plan: TicketPlan) -> Principal | None:
    """A phone call is logged by the agent who took it; other channels create tickets."""
    if plan.channel == "voice" and plan.assignee is not None:
        return ids.principals[plan.assignee]
    return None


def _ticket_create(ids: _Ids, plan: TicketPlan) -> TicketCreate:
    return TicketCreate(
        subject=plan.subject,
        body=plan.body,
        requester=RequesterIn(id=ids.customers[plan.customer]),
        priority=plan.priority,
        status=Status.new,
        channel=plan.channel,
        language="zh_CN" if plan.lang == "zh" else "en",
        tags=plan.tags,
        custom_fields=plan.custom,
        team_id=ids.teams[plan.team],
        assignee_id=ids.principals[plan.assignee].user_id if plan.assignee else None,
    )
