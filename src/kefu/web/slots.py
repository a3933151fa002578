"""Named places in the workspace templates that other subsystems fill in.

A later subsystem registers a template (and, if it needs data, a loader run inside the
page's read transaction) for a slot; the page includes every registered template there::

    slots.register("ticket_row", "sla/_row_clock.html", load=sla_service.clocks_for)

Slots: ``header`` (widgets in the top bar, e.g. the agent's routing state), ``nav`` (links
in the top bar, e.g. the wallboard), ``ticket_row`` (a cell at the end of each inbox row),
``ticket_side`` (a section of the ticket's side panel), ``customer_panel`` (a section of
the customer panel). A loader is ``load(ctx, principal, ids) -> {id: data}`` where ids are
the tickets (or customers) on the page; its result is ``slot_data[template][id]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kefu.db import Ctx
from kefu.security.permissions import Principal

Loader = Callable[[Ctx, Principal, list[int]], dict[int, Any]]
NAMES = ("header", "nav", "ticket_row", "ticket_side", "customer_panel")


@dataclass(frozen=True)
class Slot:
    template: str
    load: Loader | None = None


SLOTS: dict[str, list[Slot]] = {name: [] for name in NAMES}


def register(name: str, template: str, load: Loader | None = None) -> None:
    if name not in SLOTS:
        raise ValueError(f"unknown slot {name!r}; slots are {', '.join(NAMES)}")
    if all(s.template != template for s in SLOTS[name]):
        SLOTS[name].append(Slot(template, load))


def load(name: str, ctx: Ctx, principal: Principal, ids: list[int]) -> dict[str, dict[int, Any]]:
    """Every loader of a slot, run for the ids on the page (call inside a read job)."""
    return {s.template: s.load(ctx, principal, ids) for s in SLOTS[name] if s.load is not None}
