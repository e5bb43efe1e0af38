"""The readiness report (pydantic). Its JSON shape is kept: operators script it.

``kiosk_id``, ``verdict``, ``reasons`` (plain text), ``devices`` (each ``name``, ``status``,
``checks`` of ``level``/``ok``/``detail``, ``inventory``, plus counters, last errors and the
last test print), then the backend, the outbox, the host and the kiosk's software and config.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

NO_TEST_PRINT = "no test print on record"


class Verdict(enum.StrEnum):
    READY = "ready"
    DEGRADED = "degraded"
    OUT_OF_SERVICE = "out_of_service"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Check(_Model):
    """One health check of one device at one level."""

    level: str
    ok: bool
    detail: str
    duration_ms: float | None = None
    status: str | None = None  # the device status the check saw
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorEntry(_Model):
    at: str  # ISO 8601 with offset
    code: str
    text: str


class LastTestPrint(_Model):
    at: str
    ok: bool
    detail: str


class DeviceReport(_Model):
    name: str
    status: str
    critical: bool = False
    unavailable: str | None = None  # why a configured device is not there to check
    checks: list[Check] = Field(default_factory=list)
    inventory: dict[str, Any] = Field(default_factory=dict)
    capabilities: dict[str, Any] = Field(default_factory=dict)
    counters: dict[str, int] = Field(default_factory=dict)  # persisted (survive restarts)
    driver_counters: dict[str, int] = Field(default_factory=dict)  # this process's driver
    last_errors: list[ErrorEntry] = Field(default_factory=list)
    last_test_print: LastTestPrint | None = None
    last_test_print_text: str = NO_TEST_PRINT
    fixes: list[str] = Field(default_factory=list)  # plain-words fixes (printer reasons ...)


class BackendReport(_Model):
    reachable: bool
    latency_ms: float | None = None
    kind: str | None = None
    detail: str = ""
    unreachable_for_s: float | None = None


class OutboxReport(_Model):
    available: bool
    pending: int = 0
    parked: int = 0
    refused: int = 0
    delivered: int = 0
    followups_pending: int = 0
    followups_parked: int = 0
    oldest_pending_age_s: float | None = None
    needs_operator: int = 0
    key_error: str | None = None
    detail: str = ""


class DiskFacts(_Model):
    path: str
    total_bytes: int | None = None
    free_bytes: int | None = None
    free_percent: float | None = None
    warning: bool = False
    detail: str = ""


class MemoryFacts(_Model):
    total_bytes: int | None = None
    available_bytes: int | None = None
    detail: str = ""


class ClockFacts(_Model):
    synchronized: bool | None = None  # None: unknown
    offset_s: float | None = None
    source: str = "unknown"  # timedatectl | chrony | ntp | unknown
    detail: str = ""


class Temperature(_Model):
    sensor: str
    celsius: float


class HostFacts(_Model):
    hostname: str = ""
    disk: DiskFacts
    memory: MemoryFacts = Field(default_factory=MemoryFacts)
    clock: ClockFacts = Field(default_factory=ClockFacts)
    uptime_s: float | None = None
    temperatures: list[Temperature] = Field(default_factory=list)


class ConfigFacts(_Model):
    version: str
    hash: str  # sha256:<hex> of the effective configuration
    profile: str


class ReadinessReport(_Model):
    """Everything a technician leaves behind about one kiosk at one moment."""

    kiosk_id: str
    verdict: Verdict
    reasons: list[str]
    devices: list[DeviceReport]
    group: str
    location: str
    software_version: str
    config: ConfigFacts
    generated_at: str  # ISO 8601 with offset
    timezone: str
    level: str
    lang: str
    backend: BackendReport
    outbox: OutboxReport
    host: HostFacts
    duration_ms: float

    def as_json(self) -> dict[str, Any]:
        """The report as operators script it (``verdict`` as its text)."""
        return self.model_dump(mode="json")
