"""Stand-in devices on the real device base class (their checks take known times, hang or
raise on purpose), a kiosk configuration under tmp_path, and a real private cupsd with the
printer emulator for the printer tests."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hardware.base import Device, DeviceStatus, HardwareError, HealthLevel, HealthResult
from kiosk.config.schema import KioskConfig
from kiosk.diag.model import BackendReport, DiskFacts, HostFacts

TZ = dt.timezone(dt.timedelta(hours=8), "CST")
NOW = dt.datetime(2025, 6, 1, 10, 15, 0, tzinfo=TZ)


class StandIn(Device):
    """A device whose checks take ``delay_s`` (simulated device work), optionally hang until
    ``release`` is set, or raise."""

    def __init__(self, name: str, status: DeviceStatus = DeviceStatus.ONLINE, *,
                 delay_s: float = 0.0, hang: bool = False, raises: bool = False,
                 inventory: dict[str, Any] | None = None,
                 details: dict[str, Any] | None = None, text: str | None = None) -> None:
        super().__init__()
        self.name = name
        self._status = status
        self._details = dict(details or {})
        self.delay_s = delay_s
        self.hang = hang
        self.raises = raises
        self.release = threading.Event()
        self.calls: list[HealthLevel] = []
        self._inventory = inventory or {"model": f"SIM-{name.upper()}", "serial": "SN0001",
                                        "firmware": "1.2.3", "driver_version": "1.0"}
        self.text = text

    def inventory(self) -> dict[str, Any]:
        return dict(self._inventory)

    def set_status(self, status: DeviceStatus, **details: Any) -> None:
        self._update(status, **details)

    def check_health(self, level: HealthLevel = HealthLevel.INTERNAL) -> HealthResult:
        self.calls.append(level)
        if self.hang:
            self.release.wait(30)
        elif self.delay_s:
            threading.Event().wait(self.delay_s)  # the device's own work, not a sync wait
        if self.raises:
            raise HardwareError("sensor fell off", detail="sensor")
        ok = self._status.usable
        return HealthResult(self.name, level, ok, self._status,
                            self.text or f"{self.name} {level.value}: {self._status.value}",
                            dict(self._details))


class FixedClock:
    """Wall-clock seconds that move only when told."""

    def __init__(self, now: float = NOW.timestamp()) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def cfg(tmp_path: Path) -> KioskConfig:
    return KioskConfig.model_validate({
        "kiosk": {"id": "kiosk-diag-01", "group": "nanhai", "location": "南海区人民医院 大厅"},
        "var_dir": str(tmp_path / "var"),
        "service": {"critical_devices": ["idcard"], "internal_check_s": 1.0,
                    "external_check_s": 2.0}})


@pytest.fixture
def devices() -> Iterator[list[StandIn]]:
    made = [StandIn(n) for n in ("idcard", "qr", "camera", "printer")]
    yield made
    for d in made:
        d.release.set()


def host_facts(var_dir: str = "var") -> HostFacts:
    return HostFacts(hostname="test", disk=DiskFacts(path=var_dir, total_bytes=100,
                                                     free_bytes=50, free_percent=50.0))


def reachable() -> BackendReport:
    return BackendReport(reachable=True, latency_ms=1.0, kind="embedded")


@pytest.fixture
def report_kwargs(cfg: KioskConfig) -> dict[str, Any]:
    """What build_report needs besides the devices and the level."""
    clock: Callable[[], dt.datetime] = lambda: NOW  # noqa: E731
    return {"backend_probe": reachable(), "outbox_stats": None, "host": host_facts(cfg.var_dir),
            "counters": None, "cfg": cfg, "clock": clock}
