"""The report over the real printer driver, a private cupsd and the printer emulator: a
paused queue and an unreachable printer are named with their fix, and the verdict returns to
ready when the fault clears."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hardware.printer.config import PrinterConfig
from hardware.printer.cupsd import PrivateCupsd
from hardware.printer.driver import CupsPrinter
from hardware.printer.emulator import PrinterEmulator
from kiosk.diag.report import build_report
from tests.kiosk.diag.conftest import StandIn


@pytest.fixture
def printer(tmp_path: Path) -> Iterator[tuple[CupsPrinter, PrivateCupsd, PrinterEmulator]]:
    cupsd = PrivateCupsd()
    cupsd.start()
    emulator = PrinterEmulator(tmp_path / "spool").start()
    try:
        cupsd.add_raw_queue("diagq", f"socket://127.0.0.1:{emulator.port}")
        cfg = PrinterConfig.model_validate({"queue": "diagq", "probe_timeout_s": 1.0,
                                            "debounce_s": 1.0})
        driver = CupsPrinter(cfg, server=cupsd.server, state_dir=tmp_path / "state")
        try:
            yield driver, cupsd, emulator
        finally:
            driver.close()
    finally:
        emulator.stop()
        cupsd.cleanup()


def test_paused_and_offline_printer_named_with_fixes_then_ready_again(
        printer: tuple[CupsPrinter, PrivateCupsd, PrinterEmulator],
        report_kwargs: dict[str, Any]) -> None:
    driver, cupsd, emulator = printer
    others = [StandIn(n) for n in ("idcard", "qr", "camera")]
    devices = [*others, driver]
    driver.refresh()  # as the factory does before handing the driver out
    report = build_report(devices, level="external", **report_kwargs)
    assert report.verdict == "ready", report.reasons
    assert report.devices[3].inventory  # the driver's own inventory, through the protocol

    cupsd.pause_queue("diagq")
    report = build_report(devices, level="external", **report_kwargs)
    printer_report = report.devices[3]
    assert report.verdict == "degraded"
    assert printer_report.checks[1].level == "external" and not printer_report.checks[1].ok
    assert "print queue paused — resume it (cupsenable)" in printer_report.fixes
    assert any(r.startswith("printer: ") and "cupsenable" in r for r in report.reasons)

    cupsd.resume_queue("diagq")
    emulator.set_fault("offline")
    report = build_report(devices, level="external", lang="zh_CN", **report_kwargs)
    assert report.verdict == "degraded"
    assert "打印机离线 — 检查电源和数据线，再开机" in report.devices[3].fixes

    emulator.set_fault(None)
    report = build_report(devices, level="external", **report_kwargs)
    assert report.verdict == "ready", report.reasons
