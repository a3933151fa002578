"""Background work of rules: ``rules.run`` takes the queued events (woken as soon as an
event some rule listens to commits, and every second anyway), ``rules.automations`` walks
open tickets for the time automations every minute; plus the outbox handler that sends a
rule's emails, and the notes written on a ticket when an email or webhook is given up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kefu.db import Ctx
from kefu.events import Event
from kefu.outbox import tasks as outbox_tasks
from kefu.outbox.service import PermanentFailure
from kefu.rules import catalogue as cat
from kefu.rules import runner
from kefu.rules.actions import EMAIL_KIND
from kefu.rules.engine import load_rule_set
from kefu.tickets import service as tickets
from kefu.worker.scheduler import PeriodicTask

if TYPE_CHECKING:
    from kefu.runtime import Runtime

RUN_TASK = "rules.run"
TIME_TASK = "rules.automations"
RUN_INTERVAL_S = 1.0
TIME_INTERVAL_S = 60.0
BATCH = 100


def register(runtime: Runtime) -> None:
    scheduler = runtime.scheduler
    scheduler.add(PeriodicTask(RUN_TASK, RUN_INTERVAL_S, run_queued))
    scheduler.add(PeriodicTask(TIME_TASK, TIME_INTERVAL_S, run_automations, lease_s=120.0))
    for name in cat.EVENTS:
        runtime.bus.subscribe(name, lambda _e: scheduler.wake(RUN_TASK))
    outbox_tasks.register(EMAIL_KIND, send_email)
    runtime.bus.subscribe("outbox.dead", _email_given_up(runtime))
    runtime.bus.subscribe("webhook.dead", _webhook_given_up(runtime))


async def run_queued(runtime: Runtime) -> None:
    while await runtime.db.write(runner.run_due, BATCH) == BATCH:
        pass


def _time_rule_ids(ctx: Ctx) -> list[int]:
    return [r.id for r in load_rule_set(ctx).time_rules]


async def run_automations(runtime: Runtime) -> None:
    for rule_id in await runtime.db.read(_time_rule_ids):
        after: int | None = None
        while True:
            after = await runtime.db.write(runner.run_time_rules, rule_id, after)
            if after is None:
                break


# -- a rule's email --------------------------------------------------------------------------
async def send_email(runtime: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """Through the email channel's adapter, from the first active email account."""
    from kefu.channels import service as channels
    from kefu.channels.base import OutboundMessage, adapter_for
    from kefu.channels.delivery import secret_box

    box = secret_box(runtime)

    def account(ctx: Ctx) -> dict[str, Any] | None:
        account_id = channels.default_account(ctx, "email")
        return (
            None if account_id is None else channels.account_config(ctx, box, account_id).settings
        )

    settings = await runtime.db.read(account)
    adapter = adapter_for("email")
    if settings is None or adapter is None:
        raise PermanentFailure("no active email account to send rule emails from")
    message = OutboundMessage(
        ticket_id=int(payload.get("ticket_id") or 0),
        message_id=-int(payload["key"]),  # negative: never the id of a ticket's message
        to=str(payload["to"]),
        text=str(payload["body"]),
        html="",
        subject=str(payload["subject"]),
        attachments=[],
        thread={},
    )
    result = await adapter.send(message, settings)
    return {"external_id": result.external_id}


def _email_given_up(runtime: Runtime) -> Any:
    async def handler(event: Event) -> None:
        if event.payload.get("kind") != EMAIL_KIND:
            return
        data = event.payload.get("payload") or {}
        if data.get("ticket_id"):
            detail = f"email to {data.get('to')}: {event.payload.get('error')}"
            entry = (
                int(data["ticket_id"]),
                "rule_failed",
                "notify_email",
                data.get("rule"),
                detail,
            )
            await runtime.db.write(tickets.record_history, None, [entry])

    return handler


def _webhook_given_up(runtime: Runtime) -> Any:
    async def handler(event: Event) -> None:
        ticket_id = event.payload.get("ticket_id")
        if ticket_id and event.payload.get("event_type") == "rule.webhook":
            detail = (
                f"webhook delivery {event.payload.get('delivery_id')}: {event.payload.get('error')}"
            )
            entry = (int(ticket_id), "rule_failed", "webhook", None, detail)
            await runtime.db.write(tickets.record_history, None, [entry])

    return handler
