"""Wires routing into the application: its API, its socket and hub, its pages."""

from __future__ import annotations

from fastapi import FastAPI

from kefu.routing import api, live, web
from kefu.runtime import Runtime


def install(app: FastAPI, runtime: Runtime) -> None:
    app.state.routing_hub = live.RoutingHub(runtime)
    app.include_router(api.router)
    app.include_router(live.router)
    app.include_router(web.router)
    web.install()
