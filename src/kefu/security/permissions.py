"""Role-based permissions in one place.

Every route names the action it performs (``require(Action.ticket_write)``); this table says
which roles may perform it and which token scope it needs. Object-level rules (private
teams, a field engineer's own work orders) are the ``can_see_ticket`` predicate and its SQL
twin in the ticket repository.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from kefu.accounts.models import Role
from kefu.kit.errors import Forbidden


class Action(StrEnum):
    ticket_read = "ticket:read"
    ticket_write = "ticket:write"
    ticket_delete = "ticket:delete"
    customer_read = "customer:read"
    customer_write = "customer:write"
    customer_merge = "customer:merge"
    customer_delete = "customer:delete"
    company_read = "company:read"
    company_write = "company:write"
    user_read = "user:read"
    user_write = "user:write"
    team_read = "team:read"
    team_write = "team:write"
    field_read = "field:read"
    field_write = "field:write"
    token_own = "token:own"
    token_any = "token:any"
    profile_own = "profile:own"  # your own name, password, language, time zone
    channel_read = "channel:read"
    channel_write = "channel:write"
    admin_console = "admin:console"
    settings_write = "settings:write"
    tag_write = "tag:write"
    canned_read = "canned:read"
    canned_write = "canned:write"
    view_write = "view:write"
    view_share = "view:share"
    sla_read = "sla:read"
    sla_write = "sla:write"
    notification_own = "notification:own"
    routing_self = "routing:self"  # your own seat state and offers
    routing_read = "routing:read"
    routing_work = "routing:work"  # enqueue, finish, abandon work (channels, CTI, agents)
    routing_supervise = "routing:supervise"  # others' state, reassign, wallboard
    routing_admin = "routing:admin"  # queues, seats, break reasons
    rule_read = "rule:read"
    rule_write = "rule:write"
    macro_read = "macro:read"
    macro_write = "macro:write"
    webhook_admin = "webhook:admin"


_ALL = frozenset(Role)
_STAFF = frozenset({Role.admin, Role.supervisor, Role.agent})
_LEADS = frozenset({Role.admin, Role.supervisor})
_ADMIN = frozenset({Role.admin})

MATRIX: dict[Action, frozenset[Role]] = {
    Action.ticket_read: _ALL,
    Action.ticket_write: _ALL,
    Action.ticket_delete: _LEADS,
    Action.customer_read: _ALL,
    Action.customer_write: _STAFF,
    Action.customer_merge: _STAFF,
    Action.customer_delete: _ADMIN,
    Action.company_read: _ALL,
    Action.company_write: _STAFF,
    Action.user_read: _ALL,
    Action.user_write: _ADMIN,
    Action.team_read: _ALL,
    Action.team_write: _LEADS,
    Action.field_read: _ALL,
    Action.field_write: _LEADS,
    Action.token_own: _ALL,
    Action.token_any: _ADMIN,
    Action.profile_own: _ALL,
    Action.admin_console: _LEADS,
    Action.channel_read: _LEADS,
    Action.channel_write: _ADMIN,
    Action.settings_write: _ADMIN,
    Action.tag_write: _LEADS,
    Action.canned_read: _ALL,
    Action.canned_write: _LEADS,
    Action.view_write: _ALL,
    Action.view_share: _LEADS,
    Action.sla_read: _STAFF,
    Action.sla_write: _LEADS,
    Action.notification_own: _ALL,
    Action.routing_self: _STAFF,
    Action.routing_read: _STAFF,
    Action.routing_work: _STAFF,
    Action.routing_supervise: _LEADS,
    Action.routing_admin: _LEADS,
    Action.rule_read: _LEADS,
    Action.rule_write: _LEADS,
    Action.macro_read: _STAFF,
    Action.macro_write: _LEADS,
    Action.webhook_admin: _ADMIN,
}

# API tokens may be narrowed to scopes; a token without scopes acts with its user's role.
SCOPES: dict[str, str] = {
    "tickets:read": "Read tickets, messages and their history",
    "tickets:write": "Create and change tickets and messages",
    "customers:read": "Read customers and companies",
    "customers:write": "Create, change and merge customers and companies",
    "admin:read": "Read users, teams and field definitions",
    "admin:write": "Manage users, teams, field definitions and tokens",
    "routing:agent": "Set your own seat state; read, accept and reject your offers",
    "routing:read": "Read queues, their statistics and agent seats",
    "routing:write": "Put work in queues, finish or abandon it (channels, CTI)",
    "routing:supervise": "Change agents' states, reassign work, watch the wallboard",
    "routing:admin": "Manage queues, seats and break reasons",
}

ACTION_SCOPE: dict[Action, str] = {
    Action.ticket_read: "tickets:read",
    Action.ticket_write: "tickets:write",
    Action.ticket_delete: "tickets:write",
    Action.customer_read: "customers:read",
    Action.customer_write: "customers:write",
    Action.customer_merge: "customers:write",
    Action.customer_delete: "customers:write",
    Action.company_read: "customers:read",
    Action.company_write: "customers:write",
    Action.user_read: "admin:read",
    Action.user_write: "admin:write",
    Action.team_read: "admin:read",
    Action.team_write: "admin:write",
    Action.field_read: "admin:read",
    Action.field_write: "admin:write",
    Action.token_own: "admin:write",
    Action.token_any: "admin:write",
    Action.profile_own: "admin:write",
    Action.admin_console: "admin:read",
    Action.channel_read: "admin:read",
    Action.channel_write: "admin:write",
    Action.settings_write: "admin:write",
    Action.tag_write: "tickets:write",
    Action.canned_read: "tickets:read",
    Action.canned_write: "admin:write",
    Action.view_write: "tickets:read",
    Action.view_share: "tickets:read",
    Action.sla_read: "admin:read",
    Action.sla_write: "admin:write",
    Action.notification_own: "tickets:read",
    Action.routing_self: "routing:agent",
    Action.routing_read: "routing:read",
    Action.routing_work: "routing:write",
    Action.routing_supervise: "routing:supervise",
    Action.routing_admin: "routing:admin",
    Action.rule_read: "admin:read",
    Action.rule_write: "admin:write",
    Action.macro_read: "tickets:read",
    Action.macro_write: "admin:write",
    Action.webhook_admin: "admin:write",
}


@dataclass(frozen=True)
class Principal:
    """The caller of a request: a user, signed in by cookie or by API token."""

    user_id: int
    role: Role
    name: str = ""
    email: str = ""
    team_ids: frozenset[int] = frozenset()
    scopes: frozenset[str] = frozenset()
    language: str = "en"
    time_zone: str = "UTC"
    via: str = "token"
    csrf_token: str | None = field(default=None, compare=False)

    def allows(self, action: Action) -> bool:
        if self.role not in MATRIX[action]:
            return False
        return not self.scopes or ACTION_SCOPE[action] in self.scopes

    def check(self, action: Action) -> None:
        if self.role not in MATRIX[action]:
            raise Forbidden(f"The {self.role} role may not {action.value.replace(':', ' ')}")
        if self.scopes and ACTION_SCOPE[action] not in self.scopes:
            raise Forbidden(f"This token lacks the {ACTION_SCOPE[action]} scope")

    @property
    def sees_all_tickets(self) -> bool:
        return self.role in _LEADS


def can_see_ticket(
    principal: Principal, team_id: int | None, team_private: bool, assignee_id: int | None
) -> bool:
    if principal.sees_all_tickets or assignee_id == principal.user_id:
        return True
    if principal.role == Role.field_engineer:
        return False
    return not (team_private and team_id not in principal.team_ids)
