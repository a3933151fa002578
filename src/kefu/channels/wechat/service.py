"""What WeChat events change in kefu besides messages."""

from __future__ import annotations

from kefu.customers import service as customers
from kefu.db import Ctx


def record_follow(ctx: Ctx, openid: str, event: str, account_id: int | None) -> None:
    """A follower is a customer from now on (their later messages find them); both follow
    and unfollow are announced as ``channel.contact`` for rules and the customer's history."""
    customer_id = customers.resolve(ctx, "wechat", openid)
    ctx.emit(
        "channel.contact",
        channel="wechat",
        account_id=account_id,
        customer_id=customer_id,
        event=event,
    )
