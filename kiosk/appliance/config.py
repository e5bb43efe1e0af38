"""The ``appliance`` section of the configuration: opening hours and the closed screen, the
display's dimming, the nightly restart, where releases live and how an update is judged
healthy."""

from __future__ import annotations

from datetime import date, time

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kiosk.appliance.hours import HoursError, OpeningHours, parse_clock, zone


class ClosedText(BaseModel):
    """Where to turn outside the opening hours, per language (a missing language shows the
    zh_CN text): the hall's address and hours, the 12345 hotline, the online service."""

    model_config = ConfigDict(extra="forbid")

    zh_CN: str = Field("可登录政务服务网或“粤省事”小程序在线办理；咨询请拨打 12345 政务服务热线。",
                       min_length=1, max_length=300)
    zh_HK: str | None = Field("可登入政務服務網或「粵省事」小程序在線辦理；查詢請致電 12345 "
                              "政務服務熱線。", min_length=1, max_length=300)
    en: str | None = Field("Many matters can be done online on the government service "
                           "website or the Yueshengshi mini-program; for help call the 12345 "
                           "hotline.", min_length=1, max_length=500)

    @field_validator("zh_CN", "zh_HK", "en")
    @classmethod
    def _one_paragraph(cls, value: str | None) -> str | None:
        if value is not None and not value.isprintable():
            raise ValueError("one paragraph of printable text (no control characters)")
        return value

    def text(self, lang: str) -> str:
        value = getattr(self, lang, None) if lang in ("zh_CN", "zh_HK", "en") else None
        return value or self.zh_CN


class ApplianceConfig(BaseModel):
    """The kiosk as an appliance (``hours`` empty: always open)."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = "Asia/Shanghai"
    hours: dict[str, str] = Field(
        default_factory=dict,
        description="day or days -> spans, e.g. {'mon-fri': '08:30-12:00, 13:00-17:30', "
                    "'sat': '09:00-12:00'}; days not named are closed")
    closed_on: list[date] = Field(default_factory=list, max_length=366)
    closing_grace_s: float = Field(
        900.0, ge=0, le=4 * 3600,
        description="a citizen session under way at closing time may go on this long; then "
                    "it is ended like an inactivity timeout (a submission under way finishes)")
    closed_text: ClosedText = Field(default_factory=ClosedText)
    dim_when_closed: bool = True
    dim_level: float = Field(0.1, ge=0, le=1,
                             description="backlight while dimmed (0..1 of the maximum)")
    bright_level: float = Field(1.0, gt=0, le=1, description="backlight otherwise (0..1)")
    dim_after_idle_s: float | None = Field(
        None, ge=30, le=86400, description="also dim after this long on the attract screen "
                                           "with nobody touching it (None: only when closed)")
    wake_s: float = Field(60.0, ge=5, le=3600,
                          description="a touch on a dimmed screen brightens it this long")
    backlight: str = Field("auto", pattern=r"^(auto|none|[A-Za-z0-9_.:-]{1,64})$",
                           description="the /sys/class/backlight entry to dim: auto (the "
                                       "first), none, or its name (intel_backlight ...)")
    backlight_root: str = Field("/sys/class/backlight", min_length=1)
    nightly_restart: str | None = Field(None, description="HH:MM, restart when idle then")
    release_root: str = Field("/opt/kiosk", description="releases/<version>, current, previous")
    unit: str = Field("kiosk.service", pattern=r"^[A-Za-z0-9@_.:-]{1,200}\.service$")
    ready_timeout_s: float = Field(120.0, gt=0, le=3600)
    health_window_s: float = Field(60.0, ge=0, le=3600)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zone(value)
        except HoursError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("hours")
    @classmethod
    def _spans(cls, value: dict[str, str]) -> dict[str, str]:
        try:
            OpeningHours.parse(value)
        except HoursError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("nightly_restart")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_clock(value)
            except HoursError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _hours(self) -> ApplianceConfig:
        try:
            OpeningHours.parse(self.hours, self.closed_on, self.timezone)
        except HoursError as exc:
            raise ValueError(f"hours: {exc}") from None
        if self.dim_level > self.bright_level:
            raise ValueError("dim_level: must not be brighter than bright_level")
        return self

    def opening_hours(self) -> OpeningHours:
        return OpeningHours.parse(self.hours, self.closed_on, self.timezone)

    def restart_time(self) -> time | None:
        return parse_clock(self.nightly_restart) if self.nightly_restart else None
