"""A web chat account's settings (``ChannelAccount.config`` and its secrets), read with
defaults so a partly configured account still works."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kefu.channels.service import AccountConfig

AVAILABILITY = ("auto", "always", "never")
DEFAULT_TRANSCRIPT_DELAY_S = 600.0
DEFAULT_MAX_UPLOAD = 10_000_000


@dataclass(frozen=True)
class ChatOptions:
    account: AccountConfig
    title: str
    key: str
    teams: tuple[int, ...]  # offered in the pre-chat form
    prechat: bool
    require_email: bool
    allowed_origins: tuple[str, ...]
    availability: str  # auto: online while an agent is active; always; never
    transcript_delay_s: float
    max_upload_bytes: int
    identity_secret: str

    @property
    def account_id(self) -> int:
        return self.account.id

    def allows_origin(self, origin: str | None) -> bool:
        if not self.allowed_origins:
            return True
        return origin is not None and origin.rstrip("/") in self.allowed_origins


def _int_list(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, int) and not isinstance(v, bool))


def _str_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v.rstrip("/") for v in value if isinstance(v, str) and v)


def _number(value: Any, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return default


def chat_options(account: AccountConfig, name: str, attachment_limit: int) -> ChatOptions:
    s = account.settings
    availability = s.get("availability")
    upload_limit = int(_number(s.get("max_upload_bytes"), DEFAULT_MAX_UPLOAD))
    return ChatOptions(
        account=account,
        title=str(s.get("title") or name),
        key=str(s.get("key") or ""),
        teams=_int_list(s.get("teams")),
        prechat=s.get("prechat", True) is not False,
        require_email=s.get("require_email") is True,
        allowed_origins=_str_list(s.get("allowed_origins")),
        availability=availability if availability in AVAILABILITY else "auto",
        transcript_delay_s=transcript_delay_s(s),
        max_upload_bytes=min(upload_limit, attachment_limit),
        identity_secret=str(s.get("identity_secret") or ""),
    )


def transcript_delay_s(settings: Mapping[str, Any]) -> float:
    """How long an agent's reply may wait unseen before the visitor gets it by email."""
    return _number(settings.get("transcript_delay_s"), DEFAULT_TRANSCRIPT_DELAY_S)
