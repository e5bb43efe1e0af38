"""The configuration schema. Every section forbids unknown keys, so a typo is an error."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hardware.camera.config import CameraConfig, FaceConfig
from hardware.idcard.config import IdCardConfig
from hardware.printer.config import PrinterConfig
from hardware.qr.config import QrConfig
from kiosk.backend.config import BackendConfig, OutboxConfig

Language = Literal["zh_CN", "zh_HK", "en"]

# (section, key) of every file or folder where the kiosk keeps state
STATE_PATHS = (("backend", "db"), ("backend", "identity_key_file"), ("outbox", "path"),
               ("outbox", "key_file"), ("printer", "state_dir"))


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


class FleetConfig(_Section):
    """The device-twin agent (MQTT)."""

    enabled: bool = False
    broker_host: str = "127.0.0.1"
    broker_port: int = Field(1883, ge=1, le=65535)
    tls: bool = False
    trust_key_file: str | None = None


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file: str | None = None


# settings the production policy (kiosk/config/policy.py) checks, by key path
UNSAFE_KEYS = ("face.enabled", "face.liveness", "face.threshold", "camera.enabled",
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
    idcard: IdCardConfig = Field(default_factory=IdCardConfig)
    qr: QrConfig = Field(default_factory=QrConfig)
    camera: CameraConfig = Field(default_factory=CameraConfig)
    face: FaceConfig = Field(default_factory=FaceConfig)
    printer: PrinterConfig = Field(default_factory=PrinterConfig)
    backend: BackendConfig = Field(default_factory=BackendConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    fleet: FleetConfig = Field(default_factory=FleetConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
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
