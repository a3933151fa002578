"""Every string the visitor sees, in the ``webchat`` Babel domain
(``kefu/locale/<language>/LC_MESSAGES/webchat.po``).

The widget's strings are compiled into ``/widget.js`` for every language at once (the page
picks one), so the widget needs no second request; the server's own texts (the reply-time
hint, the transcript email) are translated for the visitor's language when they are made.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

from kefu.kit.validators import LANGUAGES
from kefu.web.i18n import N_, supported

LOCALE_DIR = Path(__file__).resolve().parents[2] / "locale"
DOMAIN = "webchat"

WIDGET: dict[str, str] = {
    "title": N_("Chat with us"),
    "open": N_("Open chat"),
    "close": N_("Close chat"),
    "online": N_("We're online"),
    "away": N_("We're away right now. Leave a message and we'll reply by email."),
    "placeholder": N_("Type your message…"),
    "message_label": N_("Message"),
    "send": N_("Send"),
    "attach": N_("Attach a file"),
    "prechat_intro": N_("Tell us who you are so we can follow up."),
    "name": N_("Your name"),
    "email": N_("Email"),
    "team": N_("Topic"),
    "team_any": N_("Anything else"),
    "start": N_("Start chat"),
    "email_needed": N_("Please enter your email so we can reply."),
    "connecting": N_("Connecting…"),
    "reconnecting": N_("Connection lost. Reconnecting…"),
    "sending": N_("Sending…"),
    "sent": N_("Sent"),
    "read": N_("Read"),
    "typing": N_("{name} is typing…"),
    "agent": N_("Support"),
    "you": N_("You"),
    "unread": N_("{n} new messages"),
    "will_email": N_("If you leave, we'll send the replies to {email}."),
    "ticket": N_("Your request number is {id}."),
    "upload_failed": N_("The file could not be uploaded: {reason}"),
    "file_too_large": N_("The file is too large (at most {size} MB)."),
    "rate_limited": N_("You are sending messages too fast. Please wait a moment."),
    "identity_invalid": N_("We could not confirm your sign-in, so you are chatting as a guest."),
    "identity_expired": N_("Your sign-in has expired, so you are chatting as a guest."),
    "too_long": N_("The message is too long."),
    "unavailable": N_("This chat is not available."),
    "error": N_("Something went wrong; your message is kept and will be sent again."),
}

SERVER: dict[str, str] = {
    "reply_minutes": N_("Typically replies in a few minutes"),
    "reply_within": N_("Typically replies within {time}"),
    "transcript_subject": N_("Your chat with {title}"),
    "transcript_intro": N_(
        "Here is your conversation with us. Reply to this email to continue it."
    ),
    "visitor": N_("Visitor {id}"),
}


@cache
def catalogue(language: str) -> dict[str, str]:
    """msgid → translation for one language (empty for English, the source language)."""
    po = LOCALE_DIR / supported(language) / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.exists():
        return {}
    with po.open("rb") as fp:
        catalog = read_po(fp, locale=supported(language), domain=DOMAIN)
    return {
        str(m.id): str(m.string)
        for m in catalog
        if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string
    }


def translator(language: str) -> Callable[[str], str]:
    found = catalogue(supported(language))
    return lambda msgid: found.get(msgid, msgid)


def widget_strings() -> dict[str, dict[str, str]]:
    """{language: {key: text}} for the widget bundle."""
    result = {}
    for language in LANGUAGES:
        translate = translator(language)
        result[language] = {key: translate(msgid) for key, msgid in WIDGET.items()}
    return result


def text(language: str, key: str, **values: object) -> str:
    return translator(language)(SERVER[key]).format(**values)
