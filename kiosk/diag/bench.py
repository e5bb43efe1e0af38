"""``diag.report``: the readiness report over the simulated kiosk, against the same checks run
one after another (the baseline, measured in the same run).

The kiosk is the simulation profile built by the one composition root: the ID-card reader and
the QR scanner simulators on ptys, the camera simulator, the printer behind a private cupsd,
the embedded platform and the outbox. Three results (median and p95 of the time to a complete
report, every check passed; the ratio is report / one-after-another):

* ``diag.report.internal``: ``kiosk diag report --level internal`` (goal under 1 s);
* ``diag.report.external``: the external level (SAM status, a camera frame, the scanner's port,
  CUPS) (goal under 10 s);
* ``diag.report.external_print``: the external level with the printer's test page in its lane,
  as the issue counts the external level (goal under 10 s).

For :mod:`kiosk.bench` (``kiosk.diag.bench`` in its registry). The baseline runs the report's
steps one after another, as a report without concurrency would: each device's checks of those
levels, then the backend probe, the outbox statistics and the host facts; ``extra`` holds each
step's median and the sum of the device checks alone.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hardware.base import DeviceStatus, HealthLevel, HealthResult
from kiosk.bench.harness import BenchOptions, BenchResult, compare
from kiosk.config.schema import KioskConfig
from kiosk.core import KioskCore
from kiosk.diag.counters import CounterStore
from kiosk.diag.host import collect_host
from kiosk.diag.model import ReadinessReport
from kiosk.diag.protocol import Diagnosable, details_of
from kiosk.diag.report import build_report, levels_up_to, probe_backend

GOAL_MS = {"internal": 1000, "external": 10000, "external_print": 10000}
SETTLE_S = 30.0  # the simulated devices come up (the camera's first frame, cupsd's queue)
TEST_PAGE_S = 20.0


class WithTestPrint:
    """The printer whose external check is followed by its test page, in the same lane
    (what the issue's external level includes); everything else is the printer's own."""

    def __init__(self, printer: Any) -> None:
        self.printer = printer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.printer, name)

    @property
    def name(self) -> str:
        return str(self.printer.name)

    @property
    def status(self) -> DeviceStatus:
        return DeviceStatus(self.printer.status)

    @property
    def counters(self) -> Mapping[str, int]:
        return dict(self.printer.counters)

    @property
    def details(self) -> Mapping[str, Any]:
        return details_of(self.printer)

    def capabilities(self) -> Mapping[str, Any]:
        return dict(self.printer.capabilities())

    def inventory(self) -> Mapping[str, Any]:
        return dict(self.printer.inventory())

    def check_health(self, level: HealthLevel = HealthLevel.INTERNAL) -> HealthResult:
        result: HealthResult = self.printer.check_health(level)
        if level is not HealthLevel.EXTERNAL or not result.ok:
            return result
        page = self.printer.test_page(TEST_PAGE_S)
        return HealthResult(self.name, level, bool(page.ok), self.printer.status,
                            f"{result.text}; test page: {page.state}", result.details)


@dataclass
class Scenario:
    name: str
    level: HealthLevel
    devices: Sequence[Diagnosable]


@contextmanager
def simulated_kiosk() -> Iterator[KioskCore]:
    """The simulation profile's kiosk in a temporary var dir, its devices up."""
    from kiosk import compose
    from kiosk.config import load_config

    with tempfile.TemporaryDirectory(prefix="kiosk-bench-diag-") as var:
        cfg = load_config(profile="simulation", environ={
            "KIOSK__VAR_DIR": var, "KIOSK__KIOSK__ID": "kiosk-bench-diag",
            "KIOSK__LOGGING__LEVEL": "WARNING"})
        with compose.running(cfg, diagnostics=False) as core:
            _settle(core)
            yield core


def _settle(core: KioskCore) -> None:
    """Until every device is usable (their status changes wake the wait)."""
    changed = threading.Event()
    undo = [slot.device.subscribe(lambda _event: changed.set())
            for slot in core.devices.values() if slot.device is not None]
    try:
        end = time.monotonic() + SETTLE_S
        while not all(slot.usable for slot in core.devices.values()):
            left = end - time.monotonic()
            if left <= 0:
                down = [n for n, s in core.devices.items() if not s.usable]
                raise RuntimeError(f"simulated devices not up: {', '.join(down)}")
            changed.wait(min(left, 0.5))
            changed.clear()
    finally:
        for unsubscribe in undo:
            unsubscribe()


def _devices(core: KioskCore) -> list[Diagnosable]:
    return [slot.device for slot in core.devices.values() if slot.device is not None]


def _report(core: KioskCore, counters: CounterStore, devices: Sequence[Diagnosable],
            level: HealthLevel) -> Callable[[], ReadinessReport]:
    cfg: KioskConfig = core.cfg
    outbox = core.outbox

    def run() -> ReadinessReport:
        report = build_report(
            devices, level=level, backend_probe=lambda: probe_backend(core.backend),
            outbox_stats=outbox.stats if outbox is not None else None,
            host=lambda: collect_host(cfg.var_dir), counters=counters, cfg=cfg)
        failed = [f"{d.name} {c.level}: {c.detail}" for d in report.devices for c in d.checks
                  if not c.ok]
        if failed or len(report.devices) != len(devices):
            raise RuntimeError(f"incomplete report: {'; '.join(failed) or 'devices missing'}")
        return report

    return run


def _one_after_another(core: KioskCore, devices: Sequence[Diagnosable], level: HealthLevel
                       ) -> tuple[Callable[[], None], dict[str, list[float]]]:
    """The report's steps one after another: each device's checks of ``level`` and the
    cheaper ones, then the backend probe, the outbox statistics and the host facts."""
    outbox = core.outbox
    var_dir = core.cfg.var_dir
    steps: list[tuple[str, Callable[[], object]]] = [
        (str(d.name), _checks(d, level)) for d in devices]
    steps += [("backend", lambda: probe_backend(core.backend)),
              ("outbox", outbox.stats if outbox is not None else (lambda: None)),
              ("host", lambda: collect_host(var_dir))]
    times: dict[str, list[float]] = {name: [] for name, _ in steps}

    def run() -> None:
        for name, step in steps:
            t0 = time.perf_counter()
            step()
            times[name].append((time.perf_counter() - t0) * 1000.0)

    return run, times


def _checks(device: Diagnosable, level: HealthLevel) -> Callable[[], None]:
    def run() -> None:
        for lv in levels_up_to(level):
            result = device.check_health(lv)
            if not result.ok:
                raise RuntimeError(f"{device.name} {lv.value}: {result.text}")

    return run


def interleaved(measured: Callable[[], object], baseline: Callable[[], object], n: int
                ) -> tuple[list[float], list[float]]:
    """``n`` wall times (ms) of each, taken turn about after one warm-up of each, so the
    device's and CUPS' moods of the moment fall on both alike."""
    measured()
    baseline()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(n):
        for fn, out in ((measured, times[0]), (baseline, times[1])):
            t0 = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t0) * 1000.0)
    return times


def bench_report(opts: BenchOptions) -> list[BenchResult]:
    counts = {"internal": 3 if opts.quick else opts.repeat,
              "external": 2 if opts.quick else max(3, opts.repeat // 2),
              "external_print": 1 if opts.quick else max(3, opts.repeat // 4)}
    out: list[BenchResult] = []
    with simulated_kiosk() as core, CounterStore.in_var_dir(core.cfg.var_dir) as counters:
        devices = _devices(core)
        printing = [WithTestPrint(d) if d.name == "printer" else d for d in devices]
        scenarios = [Scenario("internal", HealthLevel.INTERNAL, devices),
                     Scenario("external", HealthLevel.EXTERNAL, devices),
                     Scenario("external_print", HealthLevel.EXTERNAL, printing)]
        for sc in scenarios:
            sequential, steps = _one_after_another(core, sc.devices, sc.level)
            report, base = interleaved(_report(core, counters, sc.devices, sc.level),
                                       sequential, counts[sc.name])
            step_ms = {k: round(statistics.median(v), 1) for k, v in steps.items() if v}
            device_ms = sum(step_ms[str(d.name)] for d in sc.devices)
            out.append(compare(
                f"diag.report.{sc.name}", "ms", report, "the same steps one after another",
                base, goal_ms=GOAL_MS[sc.name],
                levels=[lv.value for lv in levels_up_to(sc.level)],
                devices=[str(d.name) for d in sc.devices], step_median_ms=step_ms,
                device_checks_one_after_another_ms=round(device_ms, 1),
                within_goal=statistics.median(report) < GOAL_MS[sc.name], simulated=True))
    return out


BENCHMARKS = {"diag.report": bench_report}
