"""The web form's rules: which form, which teams it offers, what a valid submission is."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field, ValidationError, field_validator

from kefu.accounts import service as accounts
from kefu.channels import service as channels
from kefu.channels.base import InboundMessage
from kefu.customers.identities import normalise_email
from kefu.db import Ctx
from kefu.kit.crypto import SecretBox
from kefu.kit.errors import FieldError, Invalid, NotFound

MAX_MESSAGE = 20_000
MAX_FILES = 5
DEFAULT_LIMIT = 10  # submissions per client IP and window
DEFAULT_WINDOW_S = 600.0


@dataclass(frozen=True)
class FormView:
    account: channels.AccountConfig
    title: str
    intro: str
    teams: list[tuple[int, str]]
    rate_limit: int
    rate_window_s: float


def form_view(ctx: Ctx, box: SecretBox, account_id: int) -> FormView:
    """An active web form account, with the names of the teams it lets customers pick."""
    try:
        account = channels.account_config(ctx, box, account_id)
    except NotFound:
        account = None
    if account is None or account.kind != "webform" or not account.active:
        raise NotFound("Web form", account_id)
    settings = account.settings
    offered = [int(t) for t in settings.get("teams") or []]
    names = {t.id: t.name for t in accounts.list_teams(ctx) if t.id in offered}
    return FormView(
        account=account,
        title=str(settings.get("title") or ""),
        intro=str(settings.get("intro") or ""),
        teams=[(t, names[t]) for t in offered if t in names],
        rate_limit=int(settings.get("rate_limit") or DEFAULT_LIMIT),
        rate_window_s=float(settings.get("rate_window_s") or DEFAULT_WINDOW_S),
    )


class Submission(BaseModel):
    name: str = Field(default="", max_length=200)
    email: str = Field(min_length=3, max_length=254)
    subject: str = Field(min_length=1, max_length=300)
    message: str = Field(min_length=1, max_length=MAX_MESSAGE)
    team_id: int | None = None

    @field_validator("name", "subject", "message", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalise_email(value)

    @field_validator("team_id", mode="before")
    @classmethod
    def _no_team(cls, value: object) -> object:
        return None if value in ("", None) else value


def check_submission(view: FormView, fields: dict[str, str], file_count: int) -> Submission:
    """The submission, or 422 naming every field at fault."""
    errors: list[FieldError] = []
    submission = None
    try:
        submission = Submission.model_validate(fields)
    except ValidationError as exc:
        errors += [FieldError(["body", *e["loc"]], e["msg"], e["type"]) for e in exc.errors()]
    team = str(fields.get("team_id") or "")
    if team and team not in {str(t) for t, _ in view.teams}:
        errors.append(FieldError(["body", "team_id"], "this form does not offer that team"))
    if file_count > MAX_FILES:
        errors.append(FieldError(["body", "attachments"], f"at most {MAX_FILES} files"))
    if errors or submission is None:
        raise Invalid(list({tuple(e.loc): e for e in errors}.values()))
    return submission


def inbound(submission: Submission) -> InboundMessage:
    return InboundMessage(
        sender_kind="email",
        sender_value=submission.email,
        sender_name=submission.name,
        subject=submission.subject,
        text=submission.message,
        team_id=submission.team_id,
    )
