"""What the web layer of one process keeps: the organisation's settings, the live hub."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

from kefu.admin import service as admin
from kefu.admin.schemas import GeneralSettings
from kefu.events import Event
from kefu.runtime import Runtime

if TYPE_CHECKING:
    from kefu.web.live import LiveHub


class WebState:
    def __init__(self, runtime: Runtime, hub: LiveHub) -> None:
        self.runtime = runtime
        self.hub = hub
        self.organisation: GeneralSettings | None = None
        runtime.bus.subscribe("settings.updated", self._forget_settings)

    async def ready(self) -> None:
        """Load what every page shows (the organisation's name) once, after a change again."""
        if self.organisation is None:
            self.organisation = await self.runtime.db.read(admin.general_settings)

    def _forget_settings(self, _: Event) -> None:
        self.organisation = None


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state
