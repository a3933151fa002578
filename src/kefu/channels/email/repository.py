"""Every query of the email channel: IMAP read positions."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kefu.channels.email.models import EmailMailboxState


def get_state(session: Session, account_id: int, mailbox: str) -> EmailMailboxState | None:
    return session.get(EmailMailboxState, (account_id, mailbox))


def add(session: Session, state: EmailMailboxState) -> None:
    session.add(state)
    session.flush()
