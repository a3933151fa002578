"""Satisfaction surveys: asked on a ticket (a rule's ``send_survey``), answered by the
customer on a public page whose link carries a random token, the only credential.

Asking again while a survey of the ticket waits for its answer sends the same link again
rather than a second survey. An answer may be changed: the last one counts. Each answer
goes on the ticket's history and raises ``survey.rated`` (``ticket_id, rating, comment``),
which rules may trigger on (``survey.rating <= 2`` → tell a supervisor)."""

from __future__ import annotations

import secrets

from kefu.customers import service as customers
from kefu.db import Ctx
from kefu.kit.errors import FieldError, Invalid, NotFound
from kefu.security.permissions import Principal
from kefu.surveys import repository as repo
from kefu.surveys.models import COMMENT_MAX, Survey
from kefu.surveys.schemas import SurveyPage, SurveyRead
from kefu.tickets import conversation
from kefu.tickets import service as tickets
from kefu.tickets.models import Ticket, Visibility
from kefu.web.i18n import N_, supported, translations

RATINGS = range(1, 6)
TOKEN_BYTES = 32  # 256 random bits, url-safe base64 (43 characters)
PATH = "/survey/"
INVITATION = N_("How did we do? Please rate our help with this request: %(url)s")


def survey_read(survey: Survey) -> SurveyRead:
    return SurveyRead.model_validate(survey, from_attributes=True)


def link(ctx: Ctx, token: str) -> str:
    """The survey page's address: absolute with ``KEFU_BASE_URL``, else relative."""
    return f"{ctx.settings.base_url.rstrip('/')}{PATH}{token}"


def ticket_language(ctx: Ctx, ticket: Ticket) -> str | None:
    """The ticket's language, else its requester's; None when neither is known."""
    if ticket.language:
        return supported(ticket.language)
    try:
        customer = customers.get_customer(ctx, ticket.requester_id)
    except NotFound:
        return None
    return supported(customer.language) if customer.language else None


def request_survey(ctx: Ctx, ticket_id: int, rule_id: int | None = None) -> SurveyRead:
    """Ask the ticket's requester to rate it: a public system message with the survey's
    link, sent on the ticket's reply channel (through the outbox, like a rule's reply)."""
    ticket = tickets.load_ticket(ctx, None, ticket_id, write=True)
    survey = repo.open_of_ticket(ctx.session, ticket.id)
    if survey is None:
        survey = Survey(
            ticket_id=ticket.id,
            customer_id=ticket.requester_id,
            token=secrets.token_urlsafe(TOKEN_BYTES),
            created_at=ctx.now(),
        )
        repo.add(ctx.session, survey)
    language = ticket_language(ctx, ticket) or ctx.settings.default_language
    text = translations(language).gettext(INVITATION)
    body = text % {"url": link(ctx, survey.token)}
    conversation.add_system_message(ctx, ticket.id, body, Visibility.public)
    ctx.emit("survey.requested", ticket_id=ticket.id, rule_id=rule_id, survey_id=survey.id)
    return survey_read(survey)


def _by_token(ctx: Ctx, token: str) -> Survey:
    survey = repo.by_token(ctx.session, token) if 0 < len(token) <= 64 else None
    if survey is None:
        raise NotFound("Survey", "link")
    return survey


def check_answer(rating: object, comment: str | None) -> tuple[int, str | None]:
    """The rating as 1..5 and the comment trimmed (None when empty); 422 naming the field."""
    errors: list[FieldError] = []
    value = 0
    try:
        value = int(str(rating).strip()) if rating is not None else 0
    except ValueError:
        value = 0
    if value not in RATINGS:
        errors.append(FieldError(["body", "rating"], "must be a whole number from 1 to 5"))
    text = (comment or "").strip()
    if len(text) > COMMENT_MAX:
        errors.append(FieldError(["body", "comment"], f"at most {COMMENT_MAX} characters"))
    if errors:
        raise Invalid(errors)
    return value, text or None


def survey_page(ctx: Ctx, token: str) -> SurveyPage:
    """What the customer's page shows; 404 for a token that names no survey."""
    survey = _by_token(ctx, token)
    ticket = tickets.load_ticket(ctx, None, survey.ticket_id)
    return SurveyPage(
        ticket_id=ticket.id,
        subject=ticket.subject,
        language=ticket_language(ctx, ticket),
        rating=survey.rating,
        comment=survey.comment,
    )


def rate(ctx: Ctx, token: str, rating: object, comment: str | None) -> SurveyRead:
    """Store the customer's answer (a new answer replaces the last), write it on the
    ticket's history and raise ``survey.rated``."""
    survey = _by_token(ctx, token)
    value, text = check_answer(rating, comment)
    old = f"{survey.rating}/5" if survey.rating is not None else None
    survey.rating, survey.comment, survey.rated_at = value, text, ctx.now()
    shown = f"{value}/5" + (f" — {text[:200]}" if text else "")
    tickets.record_history(ctx, None, [(survey.ticket_id, "survey_rated", None, old, shown)])
    payload = {"ticket_id": survey.ticket_id, "survey_id": survey.id, "rating": value}
    ctx.emit("survey.rated", **payload, comment=text or "")
    return survey_read(survey)


def surveys_of_ticket(ctx: Ctx, actor: Principal, ticket_id: int) -> list[SurveyRead]:
    tickets.load_ticket(ctx, actor, ticket_id)  # 404 for a ticket the actor cannot see
    return [survey_read(s) for s in repo.of_ticket(ctx.session, ticket_id)]


def latest_ratings(ctx: Ctx, ticket_ids: list[int]) -> dict[int, SurveyRead]:
    """Each ticket's latest answered survey (for the ticket page)."""
    return {t: survey_read(s) for t, s in repo.latest_rated(ctx.session, ticket_ids).items()}
