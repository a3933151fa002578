"""JSON routes of users, teams, API tokens and browser sign-in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from kefu.accounts import service as accounts
from kefu.accounts.schemas import (
    LoginRequest,
    LoginResult,
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
from kefu.kit.errors import Unauthorized
from kefu.kit.http import Id
from kefu.security.deps import SESSION_COOKIE, CurrentPrincipal, RuntimeDep, require
from kefu.security.permissions import Action, Principal

router = APIRouter(prefix="/api/v1", tags=["accounts"])
UserReader = Annotated[Principal, Depends(require(Action.user_read))]
UserWriter = Annotated[Principal, Depends(require(Action.user_write))]
TeamReader = Annotated[Principal, Depends(require(Action.team_read))]
TeamWriter = Annotated[Principal, Depends(require(Action.team_write))]
OwnTokens = Annotated[Principal, Depends(require(Action.token_own))]
OwnProfile = Annotated[Principal, Depends(require(Action.profile_own))]


# -- sign-in ---------------------------------------------------------------------------------
@router.post("/auth/login", tags=["auth"])
async def login(
    data: LoginRequest, request: Request, response: Response, runtime: RuntimeDep
) -> LoginResult:
    user_id = await runtime.db.read(accounts.check_password, data.email, data.password)
    if user_id <= 0:
        if user_id < 0:
            await runtime.db.write(accounts.record_failed_login, -user_id)
        raise Unauthorized("The email or password is wrong")
    ip = request.client.host if request.client else ""
    raw, principal = await runtime.db.write(
        accounts.start_session, user_id, ip, request.headers.get("user-agent", "")
    )
    set_session_cookie(
        response, raw, runtime.settings.session_hours, runtime.settings.secure_cookies
    )
    user = await runtime.db.read(accounts.get_user, user_id)
    return LoginResult(user=user, csrf_token=principal.csrf_token or "")


def set_session_cookie(response: Response, raw: str, hours: int, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        max_age=hours * 3600,
        httponly=True,
        secure=secure,
        samesite="lax",
        path="/",
    )


@router.post("/auth/logout", status_code=204, tags=["auth"])
async def logout(request: Request, principal: CurrentPrincipal, runtime: RuntimeDep) -> Response:
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        await runtime.db.write(accounts.end_session, raw)
        runtime.principals.clear()
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/auth/me", tags=["auth"])
async def me(principal: CurrentPrincipal, runtime: RuntimeDep) -> UserRead:
    return await runtime.db.read(accounts.get_user, principal.user_id)


# -- users -----------------------------------------------------------------------------------
@router.get("/users")
async def list_users(principal: UserReader, runtime: RuntimeDep) -> list[UserRead]:
    return await runtime.db.read(accounts.list_users)


@router.post("/users", status_code=201)
async def create_user(data: UserCreate, principal: UserWriter, runtime: RuntimeDep) -> UserRead:
    return await runtime.db.write(accounts.create_user, data)


@router.get("/users/{user_id}")
async def get_user(user_id: Id, principal: UserReader, runtime: RuntimeDep) -> UserRead:
    return await runtime.db.read(accounts.get_user, user_id)


@router.patch("/users/{user_id}")
async def update_user(
    user_id: Id, data: UserUpdate, principal: OwnProfile, runtime: RuntimeDep
) -> UserRead:
    """Anyone may change their own name, password, language and time zone; the rest is
    admin work."""
    return await runtime.db.write(accounts.update_user, principal, user_id, data)


# -- teams -----------------------------------------------------------------------------------
@router.get("/teams")
async def list_teams(principal: TeamReader, runtime: RuntimeDep) -> list[TeamRead]:
    return await runtime.db.read(accounts.list_teams)


@router.post("/teams", status_code=201)
async def create_team(data: TeamCreate, principal: TeamWriter, runtime: RuntimeDep) -> TeamRead:
    return await runtime.db.write(accounts.create_team, data)


@router.get("/teams/{team_id}")
async def get_team(team_id: Id, principal: TeamReader, runtime: RuntimeDep) -> TeamRead:
    return await runtime.db.read(accounts.get_team, team_id)


@router.patch("/teams/{team_id}")
async def update_team(
    team_id: Id, data: TeamUpdate, principal: TeamWriter, runtime: RuntimeDep
) -> TeamRead:
    return await runtime.db.write(accounts.update_team, team_id, data)


@router.delete("/teams/{team_id}", status_code=204)
async def delete_team(team_id: Id, principal: TeamWriter, runtime: RuntimeDep) -> Response:
    await runtime.db.write(accounts.delete_team, team_id)
    return Response(status_code=204)


# -- API tokens ------------------------------------------------------------------------------
@router.get("/tokens", tags=["auth"])
async def list_tokens(
    principal: OwnTokens, runtime: RuntimeDep, all_users: bool = False
) -> list[TokenRead]:
    if all_users:
        principal.check(Action.token_any)
    return await runtime.db.read(accounts.list_tokens, None if all_users else principal.user_id)


@router.post("/tokens", status_code=201, tags=["auth"])
async def create_token(
    data: TokenCreate, principal: OwnTokens, runtime: RuntimeDep
) -> TokenCreated:
    """A token for yourself; its scopes can only narrow what your role allows."""
    return await runtime.db.write(
        accounts.create_token, principal.user_id, data, within=principal.scopes
    )


@router.delete("/tokens/{token_id}", tags=["auth"])
async def revoke_token(token_id: Id, principal: OwnTokens, runtime: RuntimeDep) -> TokenRead:
    return await runtime.db.write(accounts.revoke_token, principal, token_id)
