"""Who is looking at which ticket, and who is typing a reply there.

Each open ticket page holds a live connection; the connection is the viewer. Changes are
published as ``presence.changed`` events, so with ``KEFU_REDIS_URL`` set every kefu process
learns of viewers connected to the others (the Redis fan-out relays them) and keeps the
same small registry. A viewer not renewed within ``STALE_S`` (its process died) is dropped;
a "typing" mark lapses after ``TYPING_S`` unless renewed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

TYPING_S = 8.0
STALE_S = 45.0
LEFT = "left"
STATES = ("viewing", "typing")


@dataclass(frozen=True)
class Viewer:
    key: str
    user_id: int
    name: str
    state: str
    typing_until: float
    seen_until: float

    @property
    def typing(self) -> bool:
        return self.state == "typing" and self.typing_until > time.time()


def payload(viewer: Viewer, ticket_id: int) -> dict[str, Any]:
    return {
        "ticket_id": ticket_id,
        "key": viewer.key,
        "user_id": viewer.user_id,
        "name": viewer.name,
        "state": viewer.state,
        "typing_until": viewer.typing_until,
        "seen_until": viewer.seen_until,
    }


class PresenceRegistry:
    def __init__(self) -> None:
        self._tickets: dict[int, dict[str, Viewer]] = {}

    def apply(self, data: dict[str, Any]) -> bool:
        """Take in one ``presence.changed`` payload; True if what people see changed."""
        ticket_id, key = int(data["ticket_id"]), str(data["key"])
        viewers = self._tickets.setdefault(ticket_id, {})
        before = viewers.get(key)
        if data.get("state") == LEFT:
            viewers.pop(key, None)
            if not viewers:
                self._tickets.pop(ticket_id, None)
            return before is not None
        viewer = Viewer(
            key=key,
            user_id=int(data["user_id"]),
            name=str(data.get("name", "")),
            state=str(data.get("state", "viewing")),
            typing_until=float(data.get("typing_until", 0.0)),
            seen_until=float(data.get("seen_until", 0.0)),
        )
        viewers[key] = viewer
        return before is None or before.state != viewer.state or before.name != viewer.name

    def get(self, ticket_id: int, key: str) -> Viewer | None:
        return self._tickets.get(ticket_id, {}).get(key)

    def purge(self) -> None:
        """Forget viewers not renewed in time everywhere (a process that died says nothing)."""
        now = time.time()
        for ticket_id in list(self._tickets):
            viewers = self._tickets[ticket_id]
            for key in [k for k, v in viewers.items() if v.seen_until < now]:
                viewers.pop(key)
            if not viewers:
                self._tickets.pop(ticket_id)

    def find(self, key: str) -> tuple[int, Viewer] | None:
        for ticket_id, viewers in self._tickets.items():
            if key in viewers:
                return ticket_id, viewers[key]
        return None

    def viewers(self, ticket_id: int, exclude_user: int | None = None) -> list[Viewer]:
        """One entry per person (typing wins over viewing), stale entries dropped."""
        now = time.time()
        entries = self._tickets.get(ticket_id, {})
        for key in [k for k, v in entries.items() if v.seen_until < now]:
            entries.pop(key)
        people: dict[int, Viewer] = {}
        for viewer in entries.values():
            if viewer.user_id == exclude_user:
                continue
            known = people.get(viewer.user_id)
            if known is None or (viewer.typing and not known.typing):
                people[viewer.user_id] = viewer
        return sorted(people.values(), key=lambda v: (not v.typing, v.name))
