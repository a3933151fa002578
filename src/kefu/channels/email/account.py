"""An email channel account's settings, read from ``ChannelAccount.config`` plus its
sealed secrets (``imap_password``, ``smtp_password``, ``webhook_token``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kefu.channels.email.threads import domain_of

Security = Literal["ssl", "starttls", "none"]
SECRET_FIELDS = ("imap_password", "smtp_password", "webhook_token")


class EmailAccount(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int | None = None
    address: str = Field(description="The support mailbox, e.g. support@example.com")
    from_name: str = Field(default="", description="Display name of outgoing mail")
    aliases: list[str] = Field(default_factory=list, description="Other addresses it receives")
    reply_token: bool = Field(default=True, description="Reply-To: <local>+t-<token>@<domain>")
    message_id_domain: str = Field(default="", description="Defaults to the address's domain")
    # inbound by IMAP
    imap_host: str = ""
    imap_port: int = 0
    imap_security: Security = "ssl"
    imap_username: str = ""
    imap_password: str = ""
    imap_mailbox: str = "INBOX"
    imap_processed_folder: str = Field(
        default="", description="Move processed mail here; empty: flag it \\Seen and leave it"
    )
    imap_idle: bool = True
    # outbound by SMTP
    smtp_host: str = ""
    smtp_port: int = 0
    smtp_security: Security = "starttls"
    smtp_username: str = ""
    smtp_password: str = ""
    tls_verify: bool = Field(default=True, description="Check the servers' certificates")
    webhook_token: str = ""

    @property
    def domain(self) -> str:
        return self.message_id_domain or domain_of(self.address)

    @property
    def own_addresses(self) -> list[str]:
        return [self.address, *self.aliases]

    @property
    def imap_port_or_default(self) -> int:
        return self.imap_port or (993 if self.imap_security == "ssl" else 143)

    @property
    def smtp_port_or_default(self) -> int:
        if self.smtp_port:
            return self.smtp_port
        return {"ssl": 465, "starttls": 587, "none": 25}[self.smtp_security]


def account_from(settings: Mapping[str, Any], account_id: int | None = None) -> EmailAccount:
    """Raises ValueError naming the setting at fault."""
    try:
        return EmailAccount.model_validate({**settings, "id": account_id})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"email account setting {where}: {first['msg']}") from exc
