"""Configuration of the backend adapter and the outbox."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class BackendConfig(BaseModel):
    """Which backend the kiosk talks to: the embedded reference platform or HTTP."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["embedded", "http"] = "embedded"
    url: str | None = None
    db: str = Field("platform.sqlite", description="relative paths are under var_dir")
    seed_demo: bool = True
    credentials_file: str | None = None
    timeout_s: float = Field(5.0, gt=0)
    retries: int = Field(3, ge=0, le=10)
    verify_tls: bool = True
    identity_key_file: str = "secrets/platform-signing.key"
    session_ttl_s: float = Field(1800.0, gt=0)


class OutboxConfig(BaseModel):
    """The local outbox of pending submissions (SQLite, encrypted personal fields)."""

    model_config = ConfigDict(extra="forbid")

    path: str = "outbox.sqlite"
    key_file: str = "secrets/outbox.key"
    retry_interval_s: float = Field(10.0, gt=0)
    parked_retry_s: float = Field(
        600.0, gt=0, description="parked rows (bad token, wrong URL...) are tried again this "
        "often by themselves, so a fix reaches them even if nobody runs `kiosk outbox retry`")
