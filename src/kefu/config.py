"""One Settings class; every value can be set by a ``KEFU_*`` environment variable."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEFU_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("./data"), description="Where SQLite, attachments live")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty = SQLite in data_dir")
    redis_url: str = Field(default="", description="Redis for cross-process events; empty = off")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(default=1, description="uvicorn worker processes")
    secret_key: str = Field(
        default="", description="Signs cookies; generated into data_dir if empty"
    )
    base_url: str = Field(default="", description="Public URL, e.g. https://help.example.com")
    secure_cookies: bool = Field(default=False, description="Set Secure on cookies (HTTPS)")
    session_hours: int = 12
    db_readers: int = Field(default=4, description="Threads serving read queries")
    db_write_batch: int = Field(default=64, description="Most write jobs per group commit")
    db_writers: int = Field(
        default=1, description="Writer threads on PostgreSQL (SQLite: always 1); see README"
    )
    db_pool_size: int = 10
    max_body_bytes: int = Field(default=1_000_000, description="Largest JSON request body")
    max_attachment_bytes: int = Field(default=20_000_000, description="Largest attachment")
    login_max_failures: int = Field(default=5, description="Failed logins before a lockout")
    login_lockout_s: int = Field(default=300, description="Lockout after too many failures")
    token_cache_s: float = Field(default=5.0, description="How long a checked token is trusted")
    run_worker: bool = Field(default=True, description="Run periodic tasks in this process")
    default_language: str = "en"
    default_time_zone: str = "UTC"
    log_level: str = "info"
    # email channel (docs/channels/email.md)
    email_poll_s: float = Field(default=30.0, description="IMAP polling interval; 0 = off")
    email_idle_s: float = Field(
        default=120.0, description="How long a poll round waits in IMAP IDLE; 0 = no IDLE"
    )
    smtp_listen_host: str = Field(default="127.0.0.1", description="SMTP listener address")
    smtp_listen_port: int = Field(default=0, description="SMTP listener port; 0 = off")
    smtp_listen_max_bytes: int = Field(default=50_000_000, description="Largest mail taken")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kefu.db').resolve()}"

    @property
    def attachments_dir(self) -> Path:
        return self.data_dir / "attachments"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
