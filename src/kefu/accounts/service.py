"""Business rules of users, teams, API tokens and sign-in. Services never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kefu.accounts import repository as repo
from kefu.accounts.models import ApiToken, Role, Team, User, WebSession
from kefu.accounts.schemas import (
    TeamCreate,
    TeamRead,
    TeamUpdate,
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from kefu.db import Ctx
from kefu.kit.crypto import digest, hash_password, new_token, verify_password
from kefu.kit.errors import (
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
    invalid,
)
from kefu.security.permissions import SCOPES, Action, Principal

TOKEN_PREFIX = "kefu_"


# -- users -------------------------------------------------------------------------------
def user_read(user: User, team_ids: list[int]) -> UserRead:
    return UserRead(
        id=user.id,
        email=user.email,
        name=user.name,
        role=Role(user.role),
        language=user.language,
        time_zone=user.time_zone,
        is_active=user.is_active,
        team_ids=team_ids,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


def _require_teams(ctx: Ctx, team_ids: list[int], loc: str) -> None:
    missing = set(team_ids) - repo.existing_team_ids(ctx.session, team_ids)
    if missing:
        raise invalid(["body", loc], f"no team with id {', '.join(map(str, sorted(missing)))}")


def create_user(ctx: Ctx, data: UserCreate) -> UserRead:
    email = data.email.lower()
    if repo.get_user_by_email(ctx.session, email) is not None:
        raise Conflict(f"A user with email {email} already exists")
    _require_teams(ctx, data.team_ids, "team_ids")
    now = ctx.now()
    user = User(
        email=email,
        name=data.name,
        role=data.role,
        password_hash=hash_password(data.password) if data.password else None,
        language=data.language,
        time_zone=data.time_zone,
        is_active=True,
        failed_logins=0,
        created_at=now,
        updated_at=now,
    )
    repo.add(ctx.session, user)
    repo.set_user_teams(ctx.session, user.id, data.team_ids)
    ctx.emit("user.created", user_id=user.id, role=user.role)
    return user_read(user, sorted(set(data.team_ids)))


def _get_user(ctx: Ctx, user_id: int) -> User:
    user = repo.get_user(ctx.session, user_id)
    if user is None:
        raise NotFound("User", user_id)
    return user


def get_user(ctx: Ctx, user_id: int) -> UserRead:
    user = _get_user(ctx, user_id)
    return user_read(user, repo.team_ids_of(ctx.session, user_id))


def user_id_by_email(ctx: Ctx, email: str) -> int:
    user = repo.get_user_by_email(ctx.session, email.strip())
    if user is None:
        raise NotFound("User with email", email)
    return user.id


def list_users(ctx: Ctx) -> list[UserRead]:
    users = repo.list_users(ctx.session)
    teams = repo.team_ids_by_user(ctx.session, [u.id for u in users])
    return [user_read(u, teams[u.id]) for u in users]


def update_user(ctx: Ctx, actor: Principal, user_id: int, data: UserUpdate) -> UserRead:
    user = _get_user(ctx, user_id)
    changes = data.model_dump(exclude_unset=True)
    is_self = actor.user_id == user_id
    if not is_self or {"role", "is_active", "team_ids"} & changes.keys():
        actor.check(Action.user_write)
    else:
        actor.check(Action.profile_own)
    _guard_last_admin(ctx, user, changes)
    if "team_ids" in changes and changes["team_ids"] is not None:
        _require_teams(ctx, changes["team_ids"], "team_ids")
        repo.set_user_teams(ctx.session, user.id, changes.pop("team_ids"))
    password = changes.pop("password", None)
    if password:
        user.password_hash = hash_password(password)
        user.failed_logins, user.locked_until = 0, None
    for key, value in changes.items():
        if value is not None:
            setattr(user, key, value)
    user.updated_at = ctx.now()
    if password or user.is_active is False:
        repo.delete_user_sessions(ctx.session, user.id)
    ctx.emit("user.updated", user_id=user.id, fields=sorted(data.model_fields_set))
    return user_read(user, repo.team_ids_of(ctx.session, user.id))


def _guard_last_admin(ctx: Ctx, user: User, changes: dict[str, object]) -> None:
    demoted = changes.get("role") not in (None, Role.admin)
    disabled = changes.get("is_active") is False
    if user.role == Role.admin and (demoted or disabled) and repo.count_admins(ctx.session) <= 1:
        raise Conflict("This is the last active admin; make another admin first")


# -- teams -------------------------------------------------------------------------------
def team_read(team: Team, member_ids: list[int]) -> TeamRead:
    return TeamRead(
        id=team.id,
        name=team.name,
        description=team.description,
        private=team.private,
        member_ids=member_ids,
        created_at=team.created_at,
    )


def create_team(ctx: Ctx, data: TeamCreate) -> TeamRead:
    if repo.get_team_by_name(ctx.session, data.name) is not None:
        raise Conflict(f"A team named {data.name} already exists")
    require_active_users(ctx, data.member_ids, "member_ids")
    now = ctx.now()
    team = Team(
        name=data.name,
        description=data.description,
        private=data.private,
        created_at=now,
        updated_at=now,
    )
    repo.add(ctx.session, team)
    repo.set_team_members(ctx.session, team.id, data.member_ids)
    ctx.emit("team.created", team_id=team.id)
    return team_read(team, sorted(set(data.member_ids)))


def _get_team(ctx: Ctx, team_id: int) -> Team:
    team = repo.get_team(ctx.session, team_id)
    if team is None:
        raise NotFound("Team", team_id)
    return team


def get_team(ctx: Ctx, team_id: int) -> TeamRead:
    team = _get_team(ctx, team_id)
    return team_read(team, repo.member_ids_by_team(ctx.session, [team_id])[team_id])


def list_teams(ctx: Ctx) -> list[TeamRead]:
    teams = repo.list_teams(ctx.session)
    members = repo.member_ids_by_team(ctx.session, [t.id for t in teams])
    return [team_read(t, members[t.id]) for t in teams]


def update_team(ctx: Ctx, team_id: int, data: TeamUpdate) -> TeamRead:
    team = _get_team(ctx, team_id)
    changes = data.model_dump(exclude_unset=True)
    name = changes.get("name")
    if name and name != team.name and repo.get_team_by_name(ctx.session, name) is not None:
        raise Conflict(f"A team named {name} already exists")
    member_ids = changes.pop("member_ids", None)
    if member_ids is not None:
        require_active_users(ctx, member_ids, "member_ids")
        repo.set_team_members(ctx.session, team.id, member_ids)
    for key, value in changes.items():
        if value is not None:
            setattr(team, key, value)
    team.updated_at = ctx.now()
    ctx.emit("team.updated", team_id=team.id)
    return get_team(ctx, team.id)


def delete_team(ctx: Ctx, team_id: int) -> None:
    repo.delete_team(ctx.session, _get_team(ctx, team_id))
    ctx.emit("team.deleted", team_id=team_id)


# -- principals --------------------------------------------------------------------------
def principal_of(
    ctx: Ctx,
    user: User,
    *,
    via: str,
    scopes: list[str] | None = None,
    csrf_token: str | None = None,
) -> Principal:
    return Principal(
        user_id=user.id,
        role=Role(user.role),
        name=user.name,
        email=user.email,
        team_ids=frozenset(repo.team_ids_of(ctx.session, user.id)),
        scopes=frozenset(scopes or ()),
        language=user.language,
        time_zone=user.time_zone,
        via=via,
        csrf_token=csrf_token,
    )


def principal_for_user(ctx: Ctx, user_id: int) -> Principal:
    """For the CLI and the worker, which act as a named user."""
    return principal_of(ctx, _get_user(ctx, user_id), via="cli")


# -- API tokens --------------------------------------------------------------------------
def token_read(token: ApiToken) -> TokenRead:
    return TokenRead(
        id=token.id,
        user_id=token.user_id,
        name=token.name,
        prefix=token.prefix,
        scopes=list(token.scopes or []),
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
        created_at=token.created_at,
    )


def create_token(
    ctx: Ctx, user_id: int, data: TokenCreate, *, within: frozenset[str] = frozenset()
) -> TokenCreated:
    """A new token for the user. ``within`` are the scopes of the token asking for it, if
    it is scoped: a token may only mint tokens as narrow as itself."""
    user = _get_user(ctx, user_id)
    if within and not (data.scopes and set(data.scopes) <= within):
        raise Forbidden(f"This token may only create tokens within {', '.join(sorted(within))}")
    unknown = [s for s in data.scopes if s not in SCOPES]
    if unknown:
        raise invalid(
            ["body", "scopes"], f"unknown scope {', '.join(unknown)}; known: {', '.join(SCOPES)}"
        )
    if data.expires_at is not None and data.expires_at <= ctx.now():
        raise invalid(["body", "expires_at"], "is in the past")
    raw = new_token(TOKEN_PREFIX)
    token = ApiToken(
        user_id=user.id,
        name=data.name,
        token_hash=digest(raw),
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        scopes=sorted(set(data.scopes)),
        expires_at=data.expires_at,
        created_at=ctx.now(),
    )
    repo.add(ctx.session, token)
    ctx.emit("token.created", token_id=token.id, user_id=user.id)
    return TokenCreated(**token_read(token).model_dump(), token=raw)


def list_tokens(ctx: Ctx, user_id: int | None) -> list[TokenRead]:
    return [token_read(t) for t in repo.list_tokens(ctx.session, user_id)]


def revoke_token(ctx: Ctx, actor: Principal, token_id: int) -> TokenRead:
    token = repo.get_token(ctx.session, token_id)
    if token is None or (token.user_id != actor.user_id and not actor.allows(Action.token_any)):
        raise NotFound("Token", token_id)
    if token.revoked_at is None:
        token.revoked_at = ctx.now()
    ctx.emit("token.revoked", token_id=token.id, user_id=token.user_id)
    return token_read(token)


@dataclass(frozen=True)
class TokenCheck:
    principal: Principal
    token_id: int
    last_used_at: datetime | None


def check_token(ctx: Ctx, raw: str) -> TokenCheck:
    row = repo.token_with_user(ctx.session, digest(raw))
    if row is None:
        raise Unauthorized("The API token is not valid")
    token, user = row
    now = ctx.now()
    if token.revoked_at is not None:
        raise Unauthorized("The API token was revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthorized("The API token has expired")
    if not user.is_active:
        raise Unauthorized("The token's user is deactivated")
    principal = principal_of(ctx, user, via="token", scopes=list(token.scopes or []))
    return TokenCheck(principal, token.id, token.last_used_at)


def touch_token(ctx: Ctx, token_id: int) -> None:
    repo.touch_token(ctx.session, token_id, ctx.now())


# -- browser sign-in ---------------------------------------------------------------------
def check_password(ctx: Ctx, email: str, password: str) -> int:
    """Read-only half of sign-in (argon2 is slow, so it never runs in the writer)."""
    user = repo.get_user_by_email(ctx.session, email.strip())
    now = ctx.now()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        wait = int((user.locked_until - now).total_seconds()) + 1
        raise TooManyRequests("Too many failed sign-ins; try again later", wait)
    if user is None or not user.is_active or not user.password_hash:
        verify_password(_DUMMY_HASH, password)  # same cost whether or not the user exists
        return 0
    return user.id if verify_password(user.password_hash, password) else -user.id


_DUMMY_HASH = hash_password("kefu-timing-equaliser")


def record_failed_login(ctx: Ctx, user_id: int) -> None:
    user = repo.get_user(ctx.session, user_id)
    if user is None:
        return
    user.failed_logins += 1
    limit = ctx.settings.login_max_failures
    if user.failed_logins >= limit:
        # Each further failure doubles the lockout, up to a day.
        factor = 2 ** min(user.failed_logins - limit, 8)
        user.locked_until = ctx.now() + timedelta(
            seconds=min(ctx.settings.login_lockout_s * factor, 86400)
        )
    ctx.emit("user.login_failed", user_id=user_id, failures=user.failed_logins)


def start_session(ctx: Ctx, user_id: int, ip: str, user_agent: str) -> tuple[str, Principal]:
    user = _get_user(ctx, user_id)
    now = ctx.now()
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    raw, csrf = new_token(), new_token(nbytes=24)
    ctx.session.add(
        WebSession(
            session_hash=digest(raw),
            user_id=user.id,
            csrf_token=csrf,
            ip=ip[:64],
            user_agent=user_agent[:300],
            created_at=now,
            expires_at=now + timedelta(hours=ctx.settings.session_hours),
        )
    )
    repo.delete_expired_sessions(ctx.session, now)
    ctx.emit("user.logged_in", user_id=user.id)
    return raw, principal_of(ctx, user, via="session", csrf_token=csrf)


def check_session(ctx: Ctx, raw: str) -> Principal:
    row = repo.session_with_user(ctx.session, digest(raw))
    if row is None:
        raise Unauthorized("Your session has ended; sign in again")
    web_session, user = row
    if web_session.expires_at <= ctx.now() or not user.is_active:
        raise Unauthorized("Your session has ended; sign in again")
    return principal_of(ctx, user, via="session", csrf_token=web_session.csrf_token)


def end_session(ctx: Ctx, raw: str) -> None:
    repo.delete_web_session(ctx.session, digest(raw))


# -- for other domains -------------------------------------------------------------------
def describe_assignment(
    ctx: Ctx, assignee_id: int | None, team_id: int | None
) -> tuple[str | None, str | None]:
    """Check an assignee and team can take work; return their names for display."""
    assignee_name = team_name = None
    if team_id is not None:
        team = repo.get_team(ctx.session, team_id)
        if team is None:
            raise invalid(["body", "team_id"], f"no team with id {team_id}")
        team_name = team.name
    if assignee_id is not None:
        user = repo.get_user(ctx.session, assignee_id)
        if user is None or not user.is_active:
            raise invalid(["body", "assignee_id"], f"no active user with id {assignee_id}")
        if team_id is not None and team_id not in repo.team_ids_of(ctx.session, assignee_id):
            raise invalid(
                ["body", "assignee_id"], f"{user.name} is not a member of team {team_name}"
            )
        assignee_name = user.name
    return assignee_name, team_name


def require_active_users(ctx: Ctx, user_ids: list[int], loc: str) -> None:
    missing = set(user_ids) - repo.existing_user_ids(ctx.session, user_ids)
    if missing:
        raise invalid(["body", loc], f"no user with id {', '.join(map(str, sorted(missing)))}")
