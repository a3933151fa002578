"""Leases make an exclusive task run in one process at a time, whatever the process count."""

from __future__ import annotations

from datetime import timedelta

from kefu.db import Ctx
from kefu.worker import repository as repo


def acquire_lease(ctx: Ctx, name: str, holder: str, ttl_s: float) -> bool:
    now = ctx.now()
    return repo.take_lease(ctx.session, name, holder, now, now + timedelta(seconds=ttl_s))


def release_lease(ctx: Ctx, name: str, holder: str) -> None:
    repo.release_lease(ctx.session, name, holder, ctx.now())
