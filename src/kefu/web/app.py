"""Wires the web layer into the application: state, HTML error handling, the live feed."""

from __future__ import annotations

from fastapi import FastAPI

from kefu.runtime import Runtime
from kefu.web import live
from kefu.web.errors import install_error_handlers
from kefu.web.state import WebState


def install_web(app: FastAPI, runtime: Runtime) -> None:
    """Call after the API's error handlers are installed (these wrap them)."""
    app.state.web = WebState(runtime, live.LiveHub(runtime))
    install_error_handlers(app)
    app.include_router(live.router)
