"""Every query of the accounts domain."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from kefu.accounts.models import ApiToken, Team, TeamMember, User, WebSession


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == email.lower())).first()


def list_users(session: Session, *, active_only: bool = False) -> Sequence[User]:
    stmt = select(User).order_by(User.name, User.id)
    if active_only:
        stmt = stmt.where(User.is_active.is_(True))
    return session.scalars(stmt).all()


def existing_user_ids(session: Session, ids: Iterable[int]) -> set[int]:
    wanted = set(ids)
    if not wanted:
        return set()
    return set(session.scalars(select(User.id).where(User.id.in_(wanted))).all())


def count_admins(session: Session) -> int:
    stmt = select(func.count()).where(User.role == "admin", User.is_active.is_(True))
    return int(session.scalar(stmt) or 0)


def add(session: Session, obj: Any) -> None:
    session.add(obj)
    session.flush()


def team_ids_of(session: Session, user_id: int) -> list[int]:
    stmt = (
        select(TeamMember.team_id).where(TeamMember.user_id == user_id).order_by(TeamMember.team_id)
    )
    return list(session.scalars(stmt).all())


def team_ids_by_user(session: Session, user_ids: Iterable[int]) -> dict[int, list[int]]:
    ids = set(user_ids)
    result: dict[int, list[int]] = {uid: [] for uid in ids}
    if not ids:
        return result
    stmt = select(TeamMember.user_id, TeamMember.team_id).where(TeamMember.user_id.in_(ids))
    for user_id, team_id in session.execute(stmt.order_by(TeamMember.team_id)):
        result[user_id].append(team_id)
    return result


def member_ids_by_team(session: Session, team_ids: Iterable[int]) -> dict[int, list[int]]:
    ids = set(team_ids)
    result: dict[int, list[int]] = {tid: [] for tid in ids}
    if not ids:
        return result
    stmt = select(TeamMember.team_id, TeamMember.user_id).where(TeamMember.team_id.in_(ids))
    for team_id, user_id in session.execute(stmt.order_by(TeamMember.user_id)):
        result[team_id].append(user_id)
    return result


def set_user_teams(session: Session, user_id: int, team_ids: Iterable[int]) -> None:
    session.execute(delete(TeamMember).where(TeamMember.user_id == user_id))
    rows = [{"team_id": t, "user_id": user_id} for t in sorted(set(team_ids))]
    if rows:
        session.execute(insert(TeamMember), rows)


def set_team_members(session: Session, team_id: int, user_ids: Iterable[int]) -> None:
    session.execute(delete(TeamMember).where(TeamMember.team_id == team_id))
    rows = [{"team_id": team_id, "user_id": u} for u in sorted(set(user_ids))]
    if rows:
        session.execute(insert(TeamMember), rows)


def get_team(session: Session, team_id: int) -> Team | None:
    return session.get(Team, team_id)


def get_team_by_name(session: Session, name: str) -> Team | None:
    return session.scalars(select(Team).where(Team.name == name)).first()


def list_teams(session: Session) -> Sequence[Team]:
    return session.scalars(select(Team).order_by(Team.name)).all()


def existing_team_ids(session: Session, ids: Iterable[int]) -> set[int]:
    wanted = set(ids)
    if not wanted:
        return set()
    return set(session.scalars(select(Team.id).where(Team.id.in_(wanted))).all())


def delete_team(session: Session, team: Team) -> None:
    session.delete(team)
    session.flush()


def token_with_user(session: Session, token_hash: str) -> tuple[ApiToken, User] | None:
    stmt = select(ApiToken, User).join(User, User.id == ApiToken.user_id)
    row = session.execute(stmt.where(ApiToken.token_hash == token_hash)).first()
    return None if row is None else (row[0], row[1])


def list_tokens(session: Session, user_id: int | None) -> Sequence[ApiToken]:
    stmt = select(ApiToken).order_by(ApiToken.id)
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    return session.scalars(stmt).all()


def get_token(session: Session, token_id: int) -> ApiToken | None:
    return session.get(ApiToken, token_id)


def touch_token(session: Session, token_id: int, when: datetime) -> None:
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=when))


def session_with_user(session: Session, session_hash: str) -> tuple[WebSession, User] | None:
    stmt = select(WebSession, User).join(User, User.id == WebSession.user_id)
    row = session.execute(stmt.where(WebSession.session_hash == session_hash)).first()
    return None if row is None else (row[0], row[1])


def delete_web_session(session: Session, session_hash: str) -> None:
    session.execute(delete(WebSession).where(WebSession.session_hash == session_hash))


def delete_expired_sessions(session: Session, now: datetime) -> int:
    result = session.execute(delete(WebSession).where(WebSession.expires_at < now))
    return int(getattr(result, "rowcount", 0) or 0)


def delete_user_sessions(session: Session, user_id: int) -> None:
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))
