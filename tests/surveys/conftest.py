"""Survey tests run the rules worker by hand, as the rules tests do."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from kefu.config import Settings
from kefu.kit.time import FrozenClock
from kefu.main import create_app
from kefu.runtime import Runtime
from tests.conftest import Actor, People
from tests.rules.conftest import MONDAY_9AM_SHANGHAI, Rules
from tests.web.conftest import browser  # noqa: F401 - signed-in browsers for page tests

LINK = re.compile(r"(?:https?://[^\s/]+)?/survey/([A-Za-z0-9_-]+)")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(MONDAY_9AM_SHANGHAI)


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> FastAPI:
    settings.run_worker = False
    settings.base_url = "https://help.example.com/"
    return create_app(settings, clock)


@pytest.fixture
def supervisor(people: People) -> Actor:
    return people.user("supervisor")


@pytest.fixture
def rules(client: httpx.AsyncClient, runtime: Runtime, supervisor: Actor) -> Rules:
    return Rules(client, runtime, supervisor)


def survey_token(messages: list[dict[str, object]]) -> str:
    """The token in the last system message's survey link."""
    system = [m for m in messages if m["author_type"] == "system"]
    assert system, messages
    match = LINK.search(str(system[-1]["body_text"]))
    assert match is not None, system[-1]
    return match.group(1)
