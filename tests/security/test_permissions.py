"""The permission matrix, walked: every /api/v1 route x every role (and no one, and tokens
narrowed by scope) is allowed or denied exactly as ``security.permissions.MATRIX`` says.

A route added to the app without an entry in ROUTES fails ``test_every_route_has_an_entry``:
say which Action guards it (or PUBLIC / SIGNED_IN) and the walk covers it.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from kefu.accounts import service as accounts
from kefu.accounts.models import Role
from kefu.accounts.schemas import TokenCreate, UserCreate
from kefu.config import Settings
from kefu.main import create_app
from kefu.security.permissions import ACTION_SCOPE, MATRIX, SCOPES, Action
from tests.conftest import _fresh_database

pytestmark = pytest.mark.asyncio(loop_scope="module")

PUBLIC = "public"  # no sign-in: the route checks its caller another way (password, signature)
SIGNED_IN = "signed in"  # any signed-in user, whatever the role or token scope
A = Action

ROUTES: dict[tuple[str, str], Action | str] = {
    # tickets
    ("POST", "/api/v1/tickets"): A.ticket_write,
    ("GET", "/api/v1/tickets"): A.ticket_read,
    ("GET", "/api/v1/tickets/count"): A.ticket_read,
    ("POST", "/api/v1/tickets/bulk-update"): A.ticket_write,
    ("GET", "/api/v1/tickets/{ticket_id}"): A.ticket_read,
    ("PATCH", "/api/v1/tickets/{ticket_id}"): A.ticket_write,
    ("DELETE", "/api/v1/tickets/{ticket_id}"): A.ticket_delete,
    ("GET", "/api/v1/tickets/{ticket_id}/messages"): A.ticket_read,
    ("POST", "/api/v1/tickets/{ticket_id}/messages"): A.ticket_write,
    ("GET", "/api/v1/tickets/{ticket_id}/history"): A.ticket_read,
    ("POST", "/api/v1/tickets/{ticket_id}/merge"): A.ticket_write,
    ("POST", "/api/v1/tickets/{ticket_id}/split"): A.ticket_write,
    ("POST", "/api/v1/tickets/{ticket_id}/links"): A.ticket_write,
    ("DELETE", "/api/v1/tickets/{ticket_id}/links/{other_id}"): A.ticket_write,
    ("POST", "/api/v1/attachments"): A.ticket_write,
    ("GET", "/api/v1/attachments/{attachment_id}"): A.ticket_read,
    # customers and companies
    ("GET", "/api/v1/customers"): A.customer_read,
    ("POST", "/api/v1/customers"): A.customer_write,
    ("GET", "/api/v1/customers/{customer_id}"): A.customer_read,
    ("PATCH", "/api/v1/customers/{customer_id}"): A.customer_write,
    ("POST", "/api/v1/customers/{customer_id}/merge"): A.customer_merge,
    ("GET", "/api/v1/companies"): A.company_read,
    ("POST", "/api/v1/companies"): A.company_write,
    ("GET", "/api/v1/companies/{company_id}"): A.company_read,
    ("PATCH", "/api/v1/companies/{company_id}"): A.company_write,
    ("DELETE", "/api/v1/companies/{company_id}"): A.company_write,
    # accounts
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): SIGNED_IN,
    ("GET", "/api/v1/auth/me"): SIGNED_IN,
    ("GET", "/api/v1/users"): A.user_read,
    ("POST", "/api/v1/users"): A.user_write,
    ("GET", "/api/v1/users/{user_id}"): A.user_read,
    ("PATCH", "/api/v1/users/{user_id}"): A.profile_own,
    ("GET", "/api/v1/teams"): A.team_read,
    ("POST", "/api/v1/teams"): A.team_write,
    ("GET", "/api/v1/teams/{team_id}"): A.team_read,
    ("PATCH", "/api/v1/teams/{team_id}"): A.team_write,
    ("DELETE", "/api/v1/teams/{team_id}"): A.team_write,
    ("GET", "/api/v1/tokens"): A.token_own,
    ("POST", "/api/v1/tokens"): A.token_own,
    ("DELETE", "/api/v1/tokens/{token_id}"): A.token_own,
    # custom fields
    ("GET", "/api/v1/fields"): A.field_read,
    ("POST", "/api/v1/fields"): A.field_write,
    ("GET", "/api/v1/fields/{field_id}"): A.field_read,
    ("PATCH", "/api/v1/fields/{field_id}"): A.field_write,
    ("DELETE", "/api/v1/fields/{field_id}"): A.field_write,
}
_EXTRA: dict[tuple[str, str], str] = {
    # other subsystems (channels, SLA, notifications, routing, calls, webchat, duplicates);
    # actions named as strings so this file imports while theirs are being added
    ("GET", "/api/v1/channel-accounts"): "channel_read",
    ("POST", "/api/v1/channel-accounts"): "channel_write",
    ("GET", "/api/v1/channel-accounts/{account_id}"): "channel_read",
    ("PATCH", "/api/v1/channel-accounts/{account_id}"): "channel_write",
    ("DELETE", "/api/v1/channel-accounts/{account_id}"): "channel_write",
    ("GET", "/api/v1/channels/{kind}/{account_id}/webhook"): PUBLIC,
    ("POST", "/api/v1/channels/{kind}/{account_id}/webhook"): PUBLIC,
    ("GET", "/api/v1/calendars"): "sla_read",
    ("POST", "/api/v1/calendars"): "sla_write",
    ("GET", "/api/v1/calendars/{calendar_id}"): "sla_read",
    ("PUT", "/api/v1/calendars/{calendar_id}"): "sla_write",
    ("DELETE", "/api/v1/calendars/{calendar_id}"): "sla_write",
    ("GET", "/api/v1/calendars/{calendar_id}/business-time"): "sla_read",
    ("GET", "/api/v1/sla-policies"): "sla_read",
    ("POST", "/api/v1/sla-policies"): "sla_write",
    ("PUT", "/api/v1/sla-policies/order"): "sla_write",
    ("GET", "/api/v1/sla-policies/export"): "sla_read",
    ("POST", "/api/v1/sla-policies/import"): "sla_write",
    ("GET", "/api/v1/sla-policies/attainment"): "sla_read",
    ("GET", "/api/v1/sla-policies/{policy_id}"): "sla_read",
    ("PUT", "/api/v1/sla-policies/{policy_id}"): "sla_write",
    ("DELETE", "/api/v1/sla-policies/{policy_id}"): "sla_write",
    ("GET", "/api/v1/notifications"): "notification_own",
    ("POST", "/api/v1/notifications/read"): "notification_own",
    ("GET", "/api/v1/customers/{customer_id}/duplicates"): "customer_merge",
    ("GET", "/api/v1/customer-duplicates"): "customer_merge",
    ("POST", "/api/v1/forms/{account_id}"): PUBLIC,
    ("POST", "/api/v1/webchat/uploads"): PUBLIC,
    ("GET", "/api/v1/webchat/files/{conversation_id}/{attachment_id}/{signature}"): PUBLIC,
    ("POST", "/api/v1/webchat/tickets/{ticket_id}/read"): "ticket_write",
    ("GET", "/api/v1/tickets/{ticket_id}/calls"): "ticket_read",
    ("GET", "/api/v1/tickets/{ticket_id}/surveys"): "ticket_read",
    ("GET", "/api/v1/calls/{call_id}"): "ticket_read",
    ("POST", "/api/v1/calls/{call_id}/wrap-up"): "ticket_write",
    ("GET", "/api/v1/agents/me"): "routing_self",
    ("PUT", "/api/v1/agents/me/state"): "routing_self",
    ("POST", "/api/v1/agents/me/heartbeat"): "routing_self",
    ("GET", "/api/v1/agents/me/work"): "routing_self",
    ("GET", "/api/v1/agents"): "routing_read",
    ("GET", "/api/v1/agents/{user_id}"): "routing_read",
    ("PUT", "/api/v1/agents/{user_id}/state"): "routing_supervise",
    ("PATCH", "/api/v1/agents/{user_id}/seat"): "routing_admin",
    ("GET", "/api/v1/agents/{user_id}/states"): "routing_self",
    ("GET", "/api/v1/routing/break-reasons"): "routing_self",
    ("POST", "/api/v1/routing/break-reasons"): "routing_admin",
    ("PATCH", "/api/v1/routing/break-reasons/{code}"): "routing_admin",
    ("GET", "/api/v1/routing/offers"): "routing_self",
    ("GET", "/api/v1/routing/offers/{offer_id}"): "routing_self",
    ("POST", "/api/v1/routing/offers/{offer_id}/accept"): "routing_self",
    ("POST", "/api/v1/routing/offers/{offer_id}/reject"): "routing_self",
    ("GET", "/api/v1/routing/queues"): "routing_read",
    ("POST", "/api/v1/routing/queues"): "routing_admin",
    ("GET", "/api/v1/routing/queues/{queue_id}"): "routing_read",
    ("PATCH", "/api/v1/routing/queues/{queue_id}"): "routing_admin",
    ("DELETE", "/api/v1/routing/queues/{queue_id}"): "routing_admin",
    ("GET", "/api/v1/routing/queues/{queue_id}/stats"): "routing_read",
    ("GET", "/api/v1/routing/queues/{queue_id}/items"): "routing_supervise",
    ("GET", "/api/v1/routing/wallboard"): "routing_supervise",
    ("POST", "/api/v1/routing/items"): "routing_work",
    ("GET", "/api/v1/routing/items/{item_id}"): "routing_work",
    ("POST", "/api/v1/routing/items/{item_id}/answer"): "routing_work",
    ("POST", "/api/v1/routing/items/{item_id}/complete"): "routing_work",
    ("POST", "/api/v1/routing/items/{item_id}/abandon"): "routing_work",
    ("POST", "/api/v1/routing/items/{item_id}/reassign"): "routing_supervise",
    # rules, macros, webhooks
    ("GET", "/api/v1/rules"): "rule_read",
    ("POST", "/api/v1/rules"): "rule_write",
    ("GET", "/api/v1/rules/catalogue"): "rule_read",
    ("GET", "/api/v1/rules/export"): "rule_read",
    ("POST", "/api/v1/rules/import"): "rule_write",
    ("PUT", "/api/v1/rules/order"): "rule_write",
    ("POST", "/api/v1/rules/dry-run"): "rule_read",
    ("GET", "/api/v1/rules/{rule_id}"): "rule_read",
    ("PUT", "/api/v1/rules/{rule_id}"): "rule_write",
    ("DELETE", "/api/v1/rules/{rule_id}"): "rule_write",
    ("GET", "/api/v1/rules/{rule_id}/versions"): "rule_read",
    ("POST", "/api/v1/rules/{rule_id}/versions/{version}/restore"): "rule_write",
    ("POST", "/api/v1/rules/{rule_id}/dry-run"): "rule_read",
    ("GET", "/api/v1/rules/{rule_id}/firings"): "rule_read",
    ("GET", "/api/v1/macros"): "macro_read",
    ("POST", "/api/v1/macros"): "macro_write",
    ("GET", "/api/v1/macros/{macro_id}"): "macro_read",
    ("PUT", "/api/v1/macros/{macro_id}"): "macro_write",
    ("DELETE", "/api/v1/macros/{macro_id}"): "macro_write",
    ("GET", "/api/v1/tickets/{ticket_id}/macros/{macro_id}/preview"): "ticket_write",
    ("POST", "/api/v1/tickets/{ticket_id}/macros/{macro_id}"): "ticket_write",
    ("GET", "/api/v1/webhooks"): "webhook_admin",
    ("POST", "/api/v1/webhooks"): "webhook_admin",
    ("GET", "/api/v1/webhooks/events"): "webhook_admin",
    ("GET", "/api/v1/webhooks/deliveries"): "webhook_admin",
    ("GET", "/api/v1/webhooks/deliveries/{delivery_id}"): "webhook_admin",
    ("POST", "/api/v1/webhooks/deliveries/{delivery_id}/retry"): "webhook_admin",
    ("GET", "/api/v1/webhooks/{endpoint_id}"): "webhook_admin",
    ("PUT", "/api/v1/webhooks/{endpoint_id}"): "webhook_admin",
    ("POST", "/api/v1/webhooks/{endpoint_id}/rotate-secret"): "webhook_admin",
    ("POST", "/api/v1/webhooks/{endpoint_id}/test"): "webhook_admin",
    ("DELETE", "/api/v1/webhooks/{endpoint_id}"): "webhook_admin",
}
for _key, _name in _EXTRA.items():
    ROUTES[_key] = _name if _name in (PUBLIC, SIGNED_IN) else Action[_name]

ROLES = [r.value for r in Role]
# Bodies that get a permitted caller past validation where {} would be refused for a
# reason other than the guard (a scoped token may only mint tokens as narrow as itself).
BODIES: dict[tuple[str, str], dict[str, object]] = {
    ("POST", "/api/v1/tokens"): {"scopes": ["admin:write"]},
}


def api_routes(app: FastAPI) -> dict[tuple[str, str], APIRoute]:
    found: dict[tuple[str, str], APIRoute] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path or ""
        if isinstance(route, APIRoute) and path.startswith("/api/v1"):
            for method in context.methods or ():
                found[(method, path)] = route
    return found


def guards(route: APIRoute) -> set[str]:
    """Names of the auth dependencies a route has, at any depth."""
    names: set[str] = set()
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        names.add(getattr(dep.call, "__name__", ""))
        stack.extend(dep.dependencies)
    return {n for n in names if n.startswith("require_") or n == "current_principal"}


class Env:
    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app, self.client = app, client
        self.runtime = app.state.runtime
        self.users: dict[str, int] = {}
        self._tokens: dict[tuple[str, tuple[str, ...]], str] = {}

    def token(self, role: str, scopes: tuple[str, ...] = ()) -> str:
        key = (role, scopes)
        if key not in self._tokens:
            if role not in self.users:
                user = self.runtime.db.run_write(
                    accounts.create_user,
                    UserCreate(
                        email=f"{role}-{uuid.uuid4().hex[:6]}@example.com", name=role, role=role
                    ),  # type: ignore[arg-type]
                )
                self.users[role] = user.id
            made = self.runtime.db.run_write(
                accounts.create_token, self.users[role], TokenCreate(scopes=list(scopes))
            )
            self._tokens[key] = made.token
        return self._tokens[key]

    async def call(
        self, method: str, path: str, role: str | None, scopes: tuple[str, ...] = ()
    ) -> httpx.Response:
        """Ids in the path name nothing (999999), except {user_id}: the caller themself, for
        routes where acting on yourself is what the role allows."""
        headers = {"Authorization": f"Bearer {self.token(role, scopes)}"} if role else {}
        me = str(self.users[role]) if role else "999999"
        url = re.sub(r"\{[^}]+\}", "999999", path.replace("{user_id}", me))
        if method not in ("POST", "PUT", "PATCH"):
            return await self.client.request(method, url, headers=headers)
        body = BODIES.get((method, path), {})
        return await self.client.request(method, url, headers=headers, json=body)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(
    tmp_path_factory: pytest.TempPathFactory, database_template: str
) -> AsyncIterator[Env]:
    data_dir = tmp_path_factory.mktemp("matrix")
    url = _fresh_database(database_template, data_dir)
    settings = Settings(data_dir=data_dir, database_url=url, secret_key="t", token_cache_s=0.0)
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kefu.test") as client:
            yield Env(app, client)
    shutil.rmtree(Path(data_dir), ignore_errors=True)


async def test_every_route_has_an_entry(env: Env) -> None:
    routes = api_routes(env.app)
    missing = sorted(set(routes) - set(ROUTES))
    assert not missing, f"add these routes to ROUTES in {__file__}: {missing}"
    gone = sorted(set(ROUTES) - set(routes))
    assert not gone, f"ROUTES names routes the app no longer has: {gone}"


@pytest.mark.parametrize(("method", "path"), sorted(ROUTES), ids=lambda x: str(x))
async def test_route_guard(env: Env, method: str, path: str) -> None:
    rule = ROUTES[(method, path)]
    route = api_routes(env.app).get((method, path))
    if route is None:
        pytest.fail(f"{method} {path} is in ROUTES but not in the app")
    if rule == PUBLIC:
        assert guards(route) == set(), "a public route must not ask who is calling"
        return
    if rule == SIGNED_IN:
        assert guards(route) == {"current_principal"}
    else:
        assert isinstance(rule, Action)
        assert f"require_{rule.name}" in guards(route), f"the route does not require {rule}"
    unsigned = await env.call(method, path, None)
    assert unsigned.status_code == 401, unsigned.text
    assert unsigned.headers["content-type"] == "application/problem+json"
    for role in ROLES:
        response = await env.call(method, path, role)
        allowed = rule == SIGNED_IN or Role(role) in MATRIX[rule]  # type: ignore[index]
        if allowed:
            assert response.status_code not in (401, 403), (role, response.text)
            assert response.status_code < 500, (role, response.text)
        else:
            assert response.status_code == 403, (role, response.status_code, response.text)
            assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path"),
    sorted(k for k, v in ROUTES.items() if isinstance(v, Action)),
    ids=lambda x: str(x),
)
async def test_route_scope(env: Env, method: str, path: str) -> None:
    action = ROUTES[(method, path)]
    assert isinstance(action, Action)
    role = next(r.value for r in Role if r in MATRIX[action])
    needed = ACTION_SCOPE[action]
    others = tuple(sorted(s for s in SCOPES if s != needed))
    narrow = await env.call(method, path, role, others)
    assert narrow.status_code == 403, narrow.text
    assert needed in narrow.json()["detail"]
    exact = await env.call(method, path, role, (needed,))
    assert exact.status_code not in (401, 403), exact.text


async def test_every_action_has_roles_and_a_scope() -> None:
    for action in Action:
        assert action in MATRIX, action
        assert ACTION_SCOPE[action] in SCOPES, action
    assert all(Role.admin in roles for roles in MATRIX.values()), "admins may do everything"
