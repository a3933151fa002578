"""The email channel's own data: where each IMAP mailbox was read up to."""

from __future__ import annotations

from dataclasses import dataclass

from kefu.channels import service as channels
from kefu.channels.email import repository as repo
from kefu.channels.email.models import EmailMailboxState
from kefu.db import Ctx
from kefu.kit.crypto import SecretBox


@dataclass(frozen=True)
class MailboxPosition:
    uidvalidity: int
    last_uid: int


def position(ctx: Ctx, account_id: int, mailbox: str) -> MailboxPosition | None:
    state = repo.get_state(ctx.session, account_id, mailbox)
    return None if state is None else MailboxPosition(state.uidvalidity, state.last_uid)


def record_position(ctx: Ctx, account_id: int, mailbox: str, uidvalidity: int, uid: int) -> None:
    """Move forward only (a slow poller of a lost lease must not move it back)."""
    state = repo.get_state(ctx.session, account_id, mailbox)
    if state is None:
        repo.add(
            ctx.session,
            EmailMailboxState(
                account_id=account_id,
                mailbox=mailbox,
                uidvalidity=uidvalidity,
                last_uid=uid,
                updated_at=ctx.now(),
            ),
        )
        return
    if state.uidvalidity != uidvalidity:
        state.uidvalidity, state.last_uid = uidvalidity, uid
    else:
        state.last_uid = max(state.last_uid, uid)
    state.updated_at = ctx.now()


def active_account_ids(ctx: Ctx, box: SecretBox) -> list[int]:
    """Active email accounts that poll an IMAP server."""
    ids = []
    for account in channels.list_accounts(ctx, box, "email"):
        if account.active and account.config.get("imap_host"):
            ids.append(account.id)
    return ids
