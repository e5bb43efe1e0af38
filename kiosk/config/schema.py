"""The configuration schema. Every section forbids unknown keys, so a typo is an error."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hardware.camera.config import CameraConfig
from hardware.idcard.config import IdCardConfig
from hardware.printer.config import PrinterConfig
from hardware.qr.config import QrConfig
from kiosk.appliance.config import ApplianceConfig
from kiosk.backend.config import BackendConfig, OutboxConfig
from kiosk.face.config import FaceConfig

Language = Literal["zh_CN", "zh_HK", "en"]

# (section, key) of every file or folder where the kiosk keeps state
STATE_PATHS = (("backend", "db"), ("backend", "identity_key_file"), ("outbox", "path"),
               ("outbox", "key_file"), ("printer", "state_dir"), ("fleet", "state_dir"))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KioskIdentity(_Section):
    """Who this terminal is in the fleet."""

    id: str = Field("kiosk-dev", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    group: str = Field("default", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    location: str = "development laptop"
    district: str = "南海区"


class SessionConfig(_Section):
    """Inactivity and privacy behaviour of a citizen session."""

    inactivity_timeout_s: float = Field(90.0, gt=5, le=1800)
    warning_s: float = Field(20.0, gt=1, le=300)
    elderly_timeout_factor: float = Field(2.0, ge=1, le=5)
    per_screen_timeout_s: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _warning_shorter(self) -> SessionConfig:
        if self.warning_s >= self.inactivity_timeout_s:
            raise ValueError("warning_s must be shorter than inactivity_timeout_s")
        return self


class UiConfig(_Section):
    """The touchscreen."""

    fullscreen: bool = True
    width: int = Field(1080, ge=320)
    height: int = Field(1920, ge=240)
    default_language: Language = "zh_CN"
    languages: list[Language] = Field(default_factory=lambda: ["zh_CN", "zh_HK", "en"])  # type: ignore[arg-type]
    voice: bool = True
    simulation_dock: bool = False
    lockdown: bool = True


DevicePlace = Literal["below_left", "below_center", "below_right"]


class NoticeConfig(_Section):
    """A district notice on the attract screen, per language (zh_CN required; a missing
    language shows the zh_CN text); not shown after ``until``."""

    zh_CN: str = Field(min_length=1, max_length=200)
    zh_HK: str | None = Field(None, min_length=1, max_length=200)
    en: str | None = Field(None, min_length=1, max_length=400)
    until: date | None = None

    @field_validator("zh_CN", "zh_HK", "en")
    @classmethod
    def _one_paragraph(cls, value: str | None) -> str | None:
        if value is not None and not value.isprintable():
            raise ValueError("one paragraph of printable text (no control characters)")
        return value


class AttractConfig(_Section):
    """The attract screen: notices operators set remotely, the most used matters as
    shortcuts (catalogue ids; unknown ones are left out), where the devices are."""

    notices: list[NoticeConfig] = Field(default_factory=list, max_length=10)
    notice_rotate_s: float = Field(8.0, ge=3, le=60)
    top_matters: list[str] = Field(
        default_factory=lambda: ["sb-record-print", "hukou-certificate",
                                 "housing-fund-print", "elderly-allowance"],
        max_length=6)
    card_reader: DevicePlace = "below_right"
    scanner: DevicePlace = "below_left"

    @field_validator("top_matters")
    @classmethod
    def _matter_ids(cls, value: list[str]) -> list[str]:
        for matter in value:
            if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", matter):
                raise ValueError(f"{matter!r} is not a matter id")
        return value


DeviceName = Literal["idcard", "qr", "camera", "printer"]


class AlternativeText(_Section):
    """Where to go when this kiosk is out of service, per language (zh_CN required; a missing
    language shows the zh_CN text)."""

    zh_CN: str = Field("请前往就近的政务服务大厅办理，或拨打 12345 政务服务热线。",
                       min_length=1, max_length=300)
    zh_HK: str | None = Field("請前往就近的政務服務大廳辦理，或致電 12345 政務服務熱線。",
                              min_length=1, max_length=300)
    en: str | None = Field("Please go to the nearest government service hall, or call the "
                           "12345 service hotline.", min_length=1, max_length=500)

    @field_validator("zh_CN", "zh_HK", "en")
    @classmethod
    def _one_paragraph(cls, value: str | None) -> str | None:
        if value is not None and not value.isprintable():
            raise ValueError("one paragraph of printable text (no control characters)")
        return value


class TechnicianConfig(_Section):
    """Maintenance access: an Ed25519-signed technician token bound to this kiosk, plus a PIN
    (``pin_hash``: scrypt, from ``kiosk diag technician-pin``); failures lock access out."""

    trust_key_file: str | None = Field(
        None, description="the token issuer's public key, one line ed25519:<base64url>")
    pin_hash: str | None = Field(None, pattern=r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+"
                                               r"\$[A-Za-z0-9_-]+$")
    max_failures: int = Field(5, ge=1, le=20)
    failure_window_s: float = Field(900.0, ge=60, le=86400)
    lockout_s: float = Field(900.0, ge=30, le=86400)
    max_token_ttl_s: int = Field(86400, ge=60, le=7 * 86400)
    mode_timeout_s: float = Field(900.0, ge=60, le=4 * 3600)


class ServiceConfig(_Section):
    """Diagnostics and out-of-service: which devices the kiosk cannot work without, how long
    the backend may be unreachable, the per-check deadlines of the readiness report."""

    critical_devices: list[DeviceName] = Field(default_factory=lambda: ["idcard"])  # type: ignore[arg-type]
    backend_unreachable_limit_s: float = Field(300.0, ge=10, le=86400)
    auto_return: bool = Field(True, description="back in service by itself when faults clear")
    internal_check_s: float = Field(2.0, gt=0, le=60)
    external_check_s: float = Field(30.0, gt=0, le=300)
    interactive_check_s: float = Field(180.0, gt=0, le=1800)
    alternative: AlternativeText = Field(default_factory=AlternativeText)
    technician: TechnicianConfig = Field(default_factory=TechnicianConfig)


class FleetConfig(_Section):
    """The device-twin agent (MQTT, :mod:`kiosk.fleet`).

    ``enabled`` left unset means on when a ``trust_root`` is given (nothing can be applied
    without one). ``mqtts://`` in ``broker_url`` turns ``tls`` on; credentials never go in
    the URL but in ``credentials_file`` (JSON ``{"username": ..., "password": ...}``).
    """

    enabled: bool | None = None
    broker_url: str = "mqtt://127.0.0.1:1883"
    tls: bool = False
    ca_file: str | None = Field(None, description="CA bundle for the broker (TLS)")
    cert_file: str | None = Field(None, description="client certificate (TLS, optional)")
    key_file: str | None = Field(None, description="client certificate key (TLS, optional)")
    credentials_file: str | None = Field(None, description="this kiosk's broker account")
    trust_root: str | None = Field(None, description="root.pub of `kiosk ops keygen`")
    state_dir: str = Field("fleet", description="slots, high-water marks, nonces")
    heartbeat_s: float = Field(30.0, ge=0.1, le=3600)
    health_window_s: float = Field(60.0, ge=0, le=3600)
    health_probe_s: float = Field(1.0, gt=0, le=60)
    idle_poll_s: float = Field(1.0, gt=0, le=60)
    keepalive_s: int = Field(30, ge=5, le=3600)
    reconnect_min_s: float = Field(1.0, gt=0, le=300)
    reconnect_max_s: float = Field(60.0, gt=0, le=3600)

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError:
            raise ValueError("the port is out of range") from None
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
        if parts.username is not None or parts.password is not None:
            raise ValueError("credentials belong in fleet.credentials_file, not in the URL")
        if parts.path not in ("", "/") or parts.query or parts.fragment or port == 0:
            raise ValueError("expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
        return value

    @model_validator(mode="after")
    def _resolve(self) -> FleetConfig:
        if urlsplit(self.broker_url).scheme == "mqtts":
            self.tls = True
        if self.enabled is None:
            self.enabled = self.trust_root is not None
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must not be shorter than reconnect_min_s")
        return self

    @property
    def broker_host(self) -> str:
        return urlsplit(self.broker_url).hostname or ""

    @property
    def broker_port(self) -> int:
        return urlsplit(self.broker_url).port or (8883 if self.tls else 1883)


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file: str | None = None


# settings the production policy (kiosk/config/policy.py) checks, by key path
UNSAFE_KEYS = ("face.enabled", "face.liveness", "face.blink", "face.threshold", "camera.enabled",
               "camera.source", "backend.kind", "backend.seed_demo", "backend.verify_tls",
               "backend.url", "fleet.tls")


class PolicyConfig(_Section):
    """Explicit, reasoned exceptions to the production policy (one per key path)."""

    allow_unsafe: dict[str, str] = Field(
        default_factory=dict,
        description="key path -> reason, e.g. {'face.liveness': 'pilot, ticket OPS-12'}")

    @field_validator("allow_unsafe")
    @classmethod
    def _known_keys_with_reasons(cls, value: dict[str, str]) -> dict[str, str]:
        for key, reason in value.items():
            if key not in UNSAFE_KEYS:
                raise ValueError(f"{key!r} is not a policy setting (known: "
                                 f"{', '.join(UNSAFE_KEYS)})")
            if len(reason.strip()) < 4:
                raise ValueError(f"{key}: give the reason for allowing it")
            if len(reason) > 500 or not reason.isprintable():
                raise ValueError(f"{key}: the reason must be one line of at most 500 characters")
        return value


class KioskConfig(_Section):
    """The whole configuration of one kiosk."""

    profile: Literal["simulation", "production"] = "simulation"
    kiosk: KioskIdentity = Field(default_factory=KioskIdentity)
    session: SessionConfig = Field(default_factory=SessionConfig)
    ui: UiConfig = Field(default_factory=UiConfig)
    attract: AttractConfig = Field(default_factory=AttractConfig)
    idcard: IdCardConfig = Field(default_factory=IdCardConfig)
    qr: QrConfig = Field(default_factory=QrConfig)
    camera: CameraConfig = Field(default_factory=CameraConfig)
    face: FaceConfig = Field(default_factory=FaceConfig)
    printer: PrinterConfig = Field(default_factory=PrinterConfig)
    backend: BackendConfig = Field(default_factory=BackendConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    fleet: FleetConfig = Field(default_factory=FleetConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    appliance: ApplianceConfig = Field(default_factory=ApplianceConfig)
    var_dir: str = Field("var", description="where the kiosk keeps its state (no personal data)")

    @model_validator(mode="after")
    def _state_under_var_dir(self) -> KioskConfig:
        """Relative state paths live under ``var_dir``: moving it moves all kiosk state."""
        var = Path(self.var_dir)
        for section, key in STATE_PATHS:
            owner = getattr(self, section)
            value = getattr(owner, key)
            if value and not Path(value).is_absolute():
                setattr(owner, key, str(var / value))
        return self

    @model_validator(mode="after")
    def _production_has_no_simulators(self) -> KioskConfig:
        if self.profile == "production":
            for name, url in (("idcard.port", self.idcard.port), ("qr.port", self.qr.port),
                              ("camera.source", self.camera.source)):
                if url and url.startswith("sim://"):
                    raise ValueError(f"{name}: simulator {url!r} is not allowed in production")
            if self.ui.simulation_dock:
                raise ValueError("ui.simulation_dock is not allowed in production")
        return self
