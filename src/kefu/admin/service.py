"""General settings of the organisation (name, default language and time zone)."""

from __future__ import annotations

from kefu.admin import repository as repo
from kefu.admin.schemas import GeneralSettings
from kefu.db import Ctx


def general_settings(ctx: Ctx) -> GeneralSettings:
    stored = repo.all_settings(ctx.session)
    defaults = GeneralSettings(
        default_language=ctx.settings.default_language,
        default_time_zone=ctx.settings.default_time_zone,
    )
    known = {k: v for k, v in stored.items() if k in GeneralSettings.model_fields}
    return defaults.model_copy(update=known)


def update_general_settings(ctx: Ctx, data: GeneralSettings) -> GeneralSettings:
    now = ctx.now()
    current = general_settings(ctx)
    changed = [k for k, v in data.model_dump().items() if getattr(current, k) != v]
    for key in changed:
        repo.put(ctx.session, key, getattr(data, key), now)
    if changed:
        ctx.emit("settings.updated", keys=changed)
    return general_settings(ctx)
