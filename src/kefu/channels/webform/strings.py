"""Every string the form shows, in the ``webform`` Babel domain
(``kefu/locale/<language>/LC_MESSAGES/webform.po``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

from kefu.web.i18n import N_, supported

LOCALE_DIR = Path(__file__).resolve().parents[2] / "locale"
DOMAIN = "webform"

PAGE: dict[str, str] = {
    "title": N_("Contact support"),
    "intro": N_("Tell us what happened and we will answer by email."),
    "name": N_("Your name"),
    "email": N_("Email"),
    "subject": N_("Subject"),
    "message": N_("How can we help?"),
    "team": N_("Topic"),
    "team_any": N_("Anything else"),
    "attachments": N_("Attachments (optional)"),
    "honeypot": N_("Leave this field empty"),
    "send": N_("Send"),
    "sending": N_("Sending…"),
    "thanks": N_("Thank you. Your request number is {id}; we will reply to {email}."),
    "error": N_("Your request could not be sent. Please check the fields marked below."),
    "failed": N_("Your request could not be sent; please try again in a moment."),
}


@cache
def catalogue(language: str) -> dict[str, str]:
    """msgid → translation (empty for English, the source language)."""
    po = LOCALE_DIR / supported(language) / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.exists():
        return {}
    with po.open("rb") as fp:
        catalog = read_po(fp, locale=supported(language), domain=DOMAIN)
    return {str(m.id): str(m.string) for m in catalog if isinstance(m.id, str) and m.string}


def translator(language: str) -> Callable[[str], str]:
    found = catalogue(supported(language))
    return lambda msgid: found.get(msgid, msgid)


def page_strings(language: str) -> dict[str, str]:
    translate = translator(language)
    return {key: translate(msgid) for key, msgid in PAGE.items()}
