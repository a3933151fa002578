"""Domain errors and their RFC 9457 problem-details rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FieldError:
    loc: list[str | int]
    msg: str
    type: str = "value_error"

    def as_dict(self) -> dict[str, Any]:
        return {"loc": self.loc, "msg": self.msg, "type": self.type}


@dataclass
class DomainError(Exception):
    """Base of every error a service raises on purpose; the API maps it to a status."""

    detail: str
    status: int = 400
    title: str = "Bad request"
    errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return self.detail


class NotFound(DomainError):
    def __init__(self, what: str, key: object) -> None:
        super().__init__(f"{what} {key} was not found", 404, "Not found")


class Conflict(DomainError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, 409, "Conflict")


class Forbidden(DomainError):
    def __init__(self, detail: str = "Your role does not allow this") -> None:
        super().__init__(detail, 403, "Forbidden")


class Unauthorized(DomainError):
    def __init__(self, detail: str = "Sign in or send a valid API token") -> None:
        super().__init__(detail, 401, "Unauthorized")


class TooManyRequests(DomainError):
    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail, 429, "Too many requests")
        self.retry_after_s = retry_after_s


class Invalid(DomainError):
    """Input that parsed but breaks a rule; each offending field is listed."""

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        text = detail or "; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors)
        super().__init__(text, 422, "Validation failed", errors)


def invalid(loc: str | list[str | int], msg: str) -> Invalid:
    path: list[str | int] = [loc] if isinstance(loc, str) else loc
    return Invalid([FieldError(path, msg)])


def problem(status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    return body
