"""The ``appliance`` section of the configuration: opening hours, the nightly restart, where
releases live and how an update is judged healthy."""

from __future__ import annotations

from datetime import date, time

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kiosk.appliance.hours import HoursError, OpeningHours, parse_clock, zone


class ApplianceConfig(BaseModel):
    """The kiosk as an appliance (``hours`` empty: always open)."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = "Asia/Shanghai"
    hours: dict[str, str] = Field(
        default_factory=dict,
        description="day or days -> spans, e.g. {'mon-fri': '08:30-12:00, 13:00-17:30', "
                    "'sat': '09:00-12:00'}; days not named are closed")
    closed_on: list[date] = Field(default_factory=list, max_length=366)
    dim_when_closed: bool = True
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
        return self

    def opening_hours(self) -> OpeningHours:
        return OpeningHours.parse(self.hours, self.closed_on, self.timezone)

    def restart_time(self) -> time | None:
        return parse_clock(self.nightly_restart) if self.nightly_restart else None
