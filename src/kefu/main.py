"""The ASGI application: routers, error handling, health checks, lifecycle."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from kefu import __version__, migrate
from kefu.accounts import web as accounts_web
from kefu.accounts.api import router as accounts_router
from kefu.admin import web as admin_web
from kefu.calendars.api import router as calendars_router
from kefu.channels import delivery as channel_delivery
from kefu.channels.adapters import load_adapters
from kefu.channels.api import router as channels_router
from kefu.channels.email import tasks as email_tasks
from kefu.channels.voice import api as voice_api
from kefu.channels.webchat import api as webchat_api
from kefu.channels.webform import api as webform_api
from kefu.config import Settings, get_settings
from kefu.customers import web as customers_web
from kefu.customers.api import router as customers_router
from kefu.events.redis import RedisFanout
from kefu.fields.api import router as fields_router
from kefu.kit.crypto import load_or_create_secret
from kefu.kit.http import BodyLimit, install_error_handlers
from kefu.kit.time import Clock
from kefu.notifications.api import router as notifications_router
from kefu.outbox import tasks as outbox_tasks
from kefu.routing import tasks as routing_tasks
from kefu.routing.app import install as install_routing
from kefu.rules import tasks as rules_tasks
from kefu.rules import web as rules_web
from kefu.rules.api import router as rules_router
from kefu.runtime import Runtime
from kefu.sla import tasks as sla_tasks
from kefu.sla import web as sla_web
from kefu.sla.api import router as sla_router
from kefu.sla.policies import REAPPLY_KIND as SLA_REAPPLY_KIND
from kefu.surveys import web as surveys_web
from kefu.surveys.api import router as surveys_router
from kefu.tickets import web as tickets_web
from kefu.tickets import web_ticket
from kefu.tickets.api import router as tickets_router
from kefu.views import web as views_web
from kefu.web.app import install_web
from kefu.webhooks import tasks as webhooks_tasks
from kefu.webhooks import web as webhooks_web
from kefu.webhooks.api import router as webhooks_router
from kefu.worker.scheduler import PeriodicTask

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "web" / "static"

DESCRIPTION = """\
kefu's REST API. Authenticate with `Authorization: Bearer <token>` (create one with
`kefu token create EMAIL` or `POST /api/v1/tokens`). Errors are RFC 9457 problem details.
Lists are paginated by opaque cursors: pass `next_cursor` back as `cursor`.
"""


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = Runtime.create(settings, clock)
    register_tasks(runtime)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.bus.attach(asyncio.get_running_loop())
        runtime.db.start()
        fanout = await RedisFanout.start(runtime) if settings.redis_url else None
        if settings.run_worker:
            runtime.scheduler.start()
        # What the started app holds (modules, routes, templates, ...) lives as long as it:
        # frozen, it is no longer walked by every full collection (200,000 objects, pauses
        # of 100 to 400 ms under load: the lists' p99). Unfrozen at the end, for tests.
        gc.freeze()
        try:
            async with email_tasks.smtp_listener_running(runtime):
                yield
        finally:
            gc.unfreeze()
            await runtime.scheduler.stop()
            if fanout is not None:
                await fanout.stop()
            await runtime.bus.drain()
            runtime.db.close()

    app = FastAPI(
        title="kefu",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # No OpenTelemetry here: FastAPI's own would look up three providers (and the
        # environment) on every request, about 1.5 % of a ticket create.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    runtime.secret_key = settings.secret_key or load_or_create_secret(
        settings.data_dir / "secret_key"
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    install_web(app, runtime)
    sla_web.install()
    for router in (
        tickets_router,
        customers_router,
        accounts_router,
        fields_router,
        channels_router,
        calendars_router,
        sla_router,
        notifications_router,
        webform_api.router,
        rules_router,
        webhooks_router,
        surveys_router,
    ):
        app.include_router(router)
    for web in (accounts_web, tickets_web, web_ticket, customers_web, views_web, admin_web):
        app.include_router(web.router)
    app.include_router(rules_web.router)
    app.include_router(webhooks_web.router)
    webchat_api.install(app, runtime)
    voice_api.install(app, runtime)
    surveys_web.install(app)
    install_routing(app, runtime)
    _health_routes(app, runtime)
    _docs_routes(app)
    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        upload_limit=settings.max_attachment_bytes + 64_000,
        upload_prefixes=(
            "/api/v1/attachments",
            webchat_api.UPLOAD_PATH,
            webform_api.SUBMIT_PREFIX,
        ),
    )
    return app


def register_tasks(runtime: Runtime) -> None:
    """Every domain's periodic tasks; each runs in one process at a time (a lease)."""
    scheduler = runtime.scheduler
    scheduler.add(PeriodicTask(outbox_tasks.TASK_NAME, 2.0, outbox_tasks.deliver_due))
    runtime.bus.subscribe("outbox.enqueued", lambda _e: scheduler.wake(outbox_tasks.TASK_NAME))
    scheduler.add(PeriodicTask(sla_tasks.TASK_NAME, sla_tasks.INTERVAL_S, sla_tasks.sweep_due))
    outbox_tasks.register(SLA_REAPPLY_KIND, sla_tasks.reapply)
    load_adapters()
    outbox_tasks.register(channel_delivery.SEND_KIND, channel_delivery.send_message)
    email_tasks.register(runtime)
    runtime.bus.subscribe("outbox.dead", channel_delivery.mark_dead(runtime))
    routing_tasks.register(runtime)
    rules_tasks.register(runtime)
    webhooks_tasks.register(runtime)


def _health_routes(app: FastAPI, runtime: Runtime) -> None:
    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """Readiness: the database answers and its schema is at the latest migration."""
        try:
            current = await asyncio.to_thread(_schema_revision, runtime)
        except Exception as exc:  # any failure to reach the database means not ready
            log.warning("readiness check failed: %s", exc)
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        head = migrate.head_revision()
        if current != head:
            body = {"status": "unavailable", "database": "ok", "schema": current, "expected": head}
            return JSONResponse(body, 503)
        return JSONResponse({"status": "ok", "database": "ok", "schema": current})


def _schema_revision(runtime: Runtime) -> str | None:
    with runtime.db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return migrate.current_revision(runtime.db.engine)


def _docs_routes(app: FastAPI) -> None:
    """Swagger UI from local files: kefu must work offline, so no CDN."""
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="kefu API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )
