"""SLA attainment for reports: how many targets were met and breached."""

from __future__ import annotations

from datetime import datetime

from kefu.db import Ctx
from kefu.kit.errors import invalid
from kefu.kit.time import as_utc
from kefu.sla import repository as repo
from kefu.sla.models import ClockStatus, Metric
from kefu.sla.schemas import Attainment, MetricAttainment


def attainment(ctx: Ctx, start: datetime, end: datetime, policy_id: int | None) -> Attainment:
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise invalid(["query", "end"], "must come after start")
    counts = {(m, s): n for m, s, n in repo.status_counts(ctx.session, start, end, policy_id)}
    metrics = []
    for metric in Metric:
        met = counts.get((metric.value, ClockStatus.met.value), 0)
        breached = counts.get((metric.value, ClockStatus.breached.value), 0)
        running = sum(
            counts.get((metric.value, s.value), 0)
            for s in (ClockStatus.active, ClockStatus.paused, ClockStatus.warning)
        )
        done = met + breached
        metrics.append(
            MetricAttainment(
                metric=metric,
                met=met,
                breached=breached,
                running=running,
                attainment=round(met / done, 4) if done else None,
            )
        )
    return Attainment(start=start, end=end, policy_id=policy_id, metrics=metrics)
