"""The service halls that take counter appointments, as the platform is configured with them.

A hall names, per matter, how many citizens one slot takes (``capacity``: one per window
serving that matter); windows are numbered in the order the matters are listed. Opening hours
and slot length default to the platform's :class:`AppointmentPolicy`; a hall may set its own.
The demo halls are in ``config/demo/halls.yaml``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from kiosk.backend.contract import Hall, I18nText
from kiosk.backend.platform.appointments import AppointmentPolicy

HALLS_FILE = Path(__file__).resolve().parents[2] / "defaults" / "demo" / "halls.yaml"
_HALL_ID = r"^[a-z0-9][a-z0-9-]{0,39}$"
_MATTER_ID = re.compile(r"[a-z0-9\-]{1,64}")
COUNTER_MAX = 60  # the database's counter column


def _i18n(value: I18nText) -> I18nText:
    if not value.get("zh_CN"):
        raise ValueError("zh_CN text is required")
    if set(value) - {"zh_CN", "zh_HK", "en"}:
        raise ValueError("languages are zh_CN, zh_HK, en")
    if not all(v.isprintable() for v in value.values()):
        raise ValueError("one paragraph of printable text")
    return value


Text = Annotated[I18nText, AfterValidator(_i18n)]


class HallSpec(BaseModel):
    """One configured hall (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_HALL_ID)
    name: Text
    district: str = Field(min_length=1, max_length=40)
    address: Text
    hours: Text
    hotline: str = Field(pattern=r"^[0-9][0-9-]{2,19}$")
    matters: dict[str, int] = Field(min_length=1)  # matter id -> places per slot
    opening_hours: list[tuple[dt.time, dt.time]] | None = None
    slot_minutes: int | None = Field(None, ge=5, le=240)
    working_days: list[int] | None = None  # 0 = Monday

    @field_validator("matters")
    @classmethod
    def _capacities(cls, value: dict[str, int]) -> dict[str, int]:
        for matter, places in value.items():
            if not _MATTER_ID.fullmatch(matter):
                raise ValueError(f"{matter!r} is not a matter id")
            if not 1 <= places <= 50:
                raise ValueError(f"{matter}: capacity must be 1..50")
        return value

    @model_validator(mode="after")
    def _policy_valid(self) -> HallSpec:
        self.policy(AppointmentPolicy())  # raises ValueError on bad hours or days
        if len(self.counter(sum(self.matters.values()))) > COUNTER_MAX:
            raise ValueError(f"name.zh_CN: too long for a counter name ({COUNTER_MAX})")
        return self

    def policy(self, base: AppointmentPolicy) -> AppointmentPolicy:
        """``base`` with this hall's own hours, slot length and working days."""
        changes: dict[str, Any] = {}
        if self.opening_hours is not None:
            changes["opening_hours"] = tuple(self.opening_hours)
        if self.slot_minutes is not None:
            changes["slot_minutes"] = self.slot_minutes
        if self.working_days is not None:
            changes["working_days"] = frozenset(self.working_days)
        return dataclasses.replace(base, **changes) if changes else base

    def windows(self, matter_id: str) -> list[int]:
        """The window numbers serving ``matter_id`` (empty: not bookable here)."""
        first = 1
        for matter, places in self.matters.items():
            if matter == matter_id:
                return list(range(first, first + places))
            first += places
        return []

    def counter(self, window: int) -> str:
        """The counter's name as printed and stored (unique across halls)."""
        return f"{self.name['zh_CN']} {window}号窗口"

    def public(self) -> Hall:
        return Hall(id=self.id, name=self.name, district=self.district, address=self.address,
                    hours=self.hours, hotline=self.hotline, matters=list(self.matters))


class HallsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    halls: list[HallSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> HallsFile:
        for what, values in (("id", [h.id for h in self.halls]),
                             ("name", [h.name["zh_CN"] for h in self.halls])):
            if len(set(values)) != len(values):
                raise ValueError(f"hall {what}s must be unique")
        return self


class HallsError(ValueError):
    """A halls file that cannot be used; the message names the file and the key path."""


def load_halls(path: Path = HALLS_FILE) -> list[HallSpec]:
    """The halls of a YAML file (``halls: [...]``); :class:`HallsError` says what is wrong
    and where (``halls.1.hotline: ...``)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise HallsError(f"{path}: cannot read: {type(exc).__name__}") from exc
    try:
        return HallsFile.model_validate(data).halls
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "halls"
        raise HallsError(f"{path}: {where}: {first.get('msg', 'invalid')}") from exc
