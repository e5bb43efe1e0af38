"""``diag.report``: time to a complete readiness report over stand-in devices whose checks
take known times, against the same checks run one after another (the baseline).

For :mod:`kiosk.bench` (add ``kiosk.diag.bench`` to its registry). The internal level's goal
is under 1 s; the external level's (a test print included) under 10 s.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import threading
import time
from collections.abc import Callable, Mapping

from hardware.base import Device, DeviceStatus, HealthLevel, HealthResult
from kiosk.bench.harness import BenchOptions, BenchResult, p95, sample
from kiosk.config.schema import KioskConfig
from kiosk.diag.model import BackendReport, HostFacts
from kiosk.diag.report import build_report, levels_up_to

# seconds a check takes, per device and level (external: a real read, a frame, a test page)
CHECK_S: dict[str, dict[HealthLevel, float]] = {
    "idcard": {HealthLevel.INTERNAL: 0.05, HealthLevel.EXTERNAL: 0.6},
    "qr": {HealthLevel.INTERNAL: 0.03, HealthLevel.EXTERNAL: 0.4},
    "camera": {HealthLevel.INTERNAL: 0.08, HealthLevel.EXTERNAL: 0.9},
    "printer": {HealthLevel.INTERNAL: 0.12, HealthLevel.EXTERNAL: 2.5},
}


class TimedDevice(Device):
    """A stand-in whose checks take the time :data:`CHECK_S` gives (the device's work)."""

    def __init__(self, name: str, times: Mapping[HealthLevel, float]) -> None:
        super().__init__()
        self.name = name
        self.times = dict(times)
        self._status = DeviceStatus.ONLINE

    def inventory(self) -> dict[str, str]:
        return {"model": f"STAND-IN-{self.name}", "serial": "0", "driver_version": "bench"}

    def check_health(self, level: HealthLevel = HealthLevel.INTERNAL) -> HealthResult:
        threading.Event().wait(self.times.get(level, 0.0))
        return HealthResult(self.name, level, True, self._status, f"{self.name}: ok")


def _one_report(cfg: KioskConfig, devices: list[TimedDevice], level: HealthLevel
                ) -> Callable[[], object]:
    host = HostFacts.model_validate({"disk": {"path": cfg.var_dir, "free_percent": 50.0}})
    backend = BackendReport(reachable=True, latency_ms=1.0)

    def run() -> object:
        return build_report(devices, level=level, backend_probe=backend, outbox_stats=None,
                            host=host, counters=None, cfg=cfg,
                            clock=lambda: dt.datetime.now().astimezone())

    return run


def _sequential(devices: list[TimedDevice], level: HealthLevel) -> Callable[[], None]:
    def run() -> None:
        for device in devices:
            for lv in levels_up_to(level):
                device.check_health(lv)

    return run


def bench_report(opts: BenchOptions) -> list[BenchResult]:
    out = []
    with tempfile.TemporaryDirectory() as var:
        cfg = KioskConfig.model_validate({"var_dir": var})
        devices = [TimedDevice(name, times) for name, times in CHECK_S.items()]
        for level, n in ((HealthLevel.INTERNAL, 5 if opts.quick else opts.repeat),
                         (HealthLevel.EXTERNAL, 1 if opts.quick else 3)):
            report = sample(_one_report(cfg, devices, level), n, warmup=1)
            base = sample(_sequential(devices, level), max(1, n // 2), warmup=0)
            report_med = sorted(report)[len(report) // 2]
            base_med = sorted(base)[len(base) // 2]
            out.append(BenchResult(
                f"diag.report.{level.value}", "ms", report_med, p95(report), len(report),
                "checks one after another", base_med, p95(base), report_med / base_med,
                {"goal_ms": 1000 if level is HealthLevel.INTERNAL else 10000,
                 "devices": len(devices)}))
    return out


BENCHMARKS = {"diag.report": bench_report}


if __name__ == "__main__":  # pragma: no cover - a quick look without the harness
    t0 = time.perf_counter()
    for result in bench_report(BenchOptions(repeat=5)):
        print(result.json())
    print(f"total {time.perf_counter() - t0:.1f} s")
