"""The readiness report: its JSON shape, concurrent checks with deadlines, the verdict."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from hardware.base import DeviceStatus, HealthLevel
from kiosk.backend.contract import Unavailable
from kiosk.backend.embedded import EmbeddedBackend
from kiosk.backend.outbox.queue import Outbox
from kiosk.backend.switch import SwitchableBackend
from kiosk.config.schema import KioskConfig
from kiosk.diag.counters import CounterStore
from kiosk.diag.report import build_report, probe_backend
from kiosk.diag.service import ServiceState
from tests.kiosk.diag.conftest import FixedClock, StandIn


def test_json_shape_operators_script(devices: list[StandIn], report_kwargs: dict[str, Any]
                                     ) -> None:
    report = build_report(devices, level="internal", **report_kwargs)
    data = json.loads(json.dumps(report.as_json()))
    assert data["kiosk_id"] == "kiosk-diag-01"
    assert data["verdict"] == "ready" and data["reasons"] == []
    assert [d["name"] for d in data["devices"]] == ["idcard", "qr", "camera", "printer"]
    for device in data["devices"]:
        assert set(device) >= {"name", "status", "checks", "inventory"}
        assert device["status"] == "online"
        assert [set(c) >= {"level", "ok", "detail"} for c in device["checks"]] == [True]
        assert device["checks"][0]["level"] == "internal" and device["checks"][0]["ok"]
        assert device["inventory"]["serial"] == "SN0001"
        assert device["last_test_print_text"] == "no test print on record"
    assert data["group"] == "nanhai" and data["location"] == "南海区人民医院 大厅"
    assert data["generated_at"] == "2025-06-01T10:15:00+08:00"
    assert "UTC+08:00" in data["timezone"]
    assert data["config"]["hash"].startswith("sha256:") and len(data["config"]["hash"]) == 71
    assert data["software_version"]
    assert data["backend"]["reachable"] and data["host"]["disk"]["free_percent"] == 50.0


def test_levels_run_in_order_up_to_the_requested_one(devices: list[StandIn],
                                                     report_kwargs: dict[str, Any]) -> None:
    report = build_report(devices, level=HealthLevel.EXTERNAL, **report_kwargs)
    assert [c.level for c in report.devices[0].checks] == ["internal", "external"]
    assert devices[0].calls == [HealthLevel.INTERNAL, HealthLevel.EXTERNAL]


def test_checks_run_concurrently(report_kwargs: dict[str, Any]) -> None:
    slow = [StandIn(n, delay_s=0.3) for n in ("idcard", "qr", "camera", "printer")]
    t0 = time.monotonic()
    report = build_report(slow, level="internal", **report_kwargs)
    took = time.monotonic() - t0
    assert report.verdict == "ready"
    assert took < 0.9, took  # one after another would take 1.2 s
    assert all(d.checks[0].duration_ms is not None and d.checks[0].duration_ms >= 290
               for d in report.devices)


def test_a_hanging_check_becomes_a_failed_check_within_its_deadline(
        report_kwargs: dict[str, Any]) -> None:
    hung = StandIn("printer", hang=True)
    others = [StandIn(n) for n in ("idcard", "qr", "camera")]
    try:
        t0 = time.monotonic()
        report = build_report([*others, hung], level="external", **report_kwargs)
        took = time.monotonic() - t0
    finally:
        hung.release.set()
    assert took < 2.0, took  # the describe step is fine; the internal check hangs (1 s)
    printer = report.devices[3]
    assert [(c.level, c.ok) for c in printer.checks] == [("internal", False),
                                                         ("external", False)]
    assert printer.checks[0].detail == "timed out after 1 s"
    assert printer.checks[1].detail.startswith("not run")
    assert report.verdict == "degraded"
    assert any("printer" in r and "timed out" in r for r in report.reasons)


def test_a_raising_check_is_a_failed_check_with_its_reason(report_kwargs: dict[str, Any]
                                                           ) -> None:
    broken = StandIn("idcard", raises=True)
    report = build_report([broken], level="internal", expected=["idcard"], **report_kwargs)
    check = report.devices[0].checks[0]
    assert not check.ok and check.detail == "hardware_error: sensor fell off"
    assert report.verdict == "out_of_service"  # idcard is critical
    assert report.reasons == ["critical: ID-card reader check failed: internal: "
                              "hardware_error: sensor fell off"]


def test_missing_devices_are_named(report_kwargs: dict[str, Any]) -> None:
    report = build_report([StandIn("idcard")], level="internal",
                          unavailable={"printer": "device_unavailable"}, **report_kwargs)
    by_name = {d.name: d for d in report.devices}
    assert set(by_name) == {"idcard", "qr", "camera", "printer"}
    assert by_name["printer"].status == "no_device"
    assert by_name["printer"].unavailable == "device_unavailable"
    assert report.verdict == "degraded"
    assert "printer not found — check its USB cable and power (device_unavailable)" \
        in report.reasons


def test_verdict_follows_faults_and_returns_when_they_clear(
        devices: list[StandIn], report_kwargs: dict[str, Any]) -> None:
    idcard, qr = devices[0], devices[1]
    idcard.set_status(DeviceStatus.NO_DEVICE)
    report = build_report(devices, level="internal", **report_kwargs)
    assert report.verdict == "out_of_service"
    assert report.reasons == ["critical: ID-card reader not found — check its USB cable "
                              "and power"]
    idcard.set_status(DeviceStatus.ONLINE)
    qr.set_status(DeviceStatus.OFFLINE)
    report = build_report(devices, level="internal", lang="zh_CN", **report_kwargs)
    assert report.verdict == "degraded"
    assert report.reasons == ["扫码器离线 — 检查连接线，重新插拔"]
    qr.set_status(DeviceStatus.ONLINE)
    assert build_report(devices, level="internal", **report_kwargs).verdict == "ready"


def test_printer_reasons_become_plain_fixes(devices: list[StandIn],
                                            report_kwargs: dict[str, Any]) -> None:
    printer = devices[3]
    printer.set_status(DeviceStatus.HARDWARE_ERROR, paper="out",
                       reasons=["media-empty-error", "toner-low-warning"])
    report = build_report(devices, level="internal", **report_kwargs)
    assert report.devices[3].fixes == ["paper out — load A4 paper in tray 1",
                                       "toner low — have a new toner cartridge ready"]
    assert report.reasons == ["printer: paper out — load A4 paper in tray 1; toner low — "
                              "have a new toner cartridge ready"]
    assert report.verdict == "degraded"


def test_backend_down_degrades_then_takes_the_kiosk_out_after_the_limit(
        devices: list[StandIn], report_kwargs: dict[str, Any], cfg: KioskConfig) -> None:
    platform = EmbeddedBackend(cfg)
    switch = SwitchableBackend(platform)
    clock = FixedClock(0.0)
    state = ServiceState.from_config(cfg.service, clock=clock)
    kwargs = {**report_kwargs, "service": state}
    try:
        kwargs["backend_probe"] = lambda: probe_backend(switch)
        assert build_report(devices, level="internal", **kwargs).verdict == "ready"
        switch.cut()
        report = build_report(devices, level="internal", **kwargs)
        assert report.verdict == "degraded" and not report.backend.reachable
        assert report.reasons == ["the government platform is unreachable: unavailable"]
        clock.advance(cfg.service.backend_unreachable_limit_s)
        report = build_report(devices, level="internal", **kwargs)
        assert report.verdict == "out_of_service"
        assert report.reasons == ["the government platform has been unreachable for 5 min"]
        assert report.backend.unreachable_for_s == 300.0
        switch.restore()
        report = build_report(devices, level="internal", **kwargs)
        assert report.verdict == "ready" and report.backend.latency_ms is not None
    finally:
        platform.service.engine.dispose()


def test_probe_of_a_backend_that_raises_is_unreachable() -> None:
    class Down:
        def health(self) -> dict[str, object]:
            raise Unavailable("connection refused", code="connect_failed")

    result = probe_backend(Down())
    assert not result.reachable and result.detail == "connect_failed"


def test_outbox_depth_and_counters_come_from_their_stores(
        devices: list[StandIn], report_kwargs: dict[str, Any], cfg: KioskConfig) -> None:
    outbox = Outbox(cfg.outbox, None, inspect=True)
    store = CounterStore.in_var_dir(cfg.var_dir)
    try:
        store.bump("printer", "prints", 3)
        store.record_error("printer", "media-jam", "paper jam in tray 1")
        store.record_test_print("printer", True, "test page: completed")
        report = build_report(devices, level="internal",
                              **{**report_kwargs, "outbox_stats": outbox.stats,
                                 "counters": store})
    finally:
        outbox.close()
        store.close()
    assert report.outbox.available and report.outbox.pending == 0
    printer = report.devices[3]
    assert printer.counters == {"errors": 1, "prints": 3}
    assert printer.last_errors[0].code == "media-jam"
    assert printer.last_errors[0].at.endswith("+08:00")
    assert printer.last_test_print is not None and printer.last_test_print.ok
    assert printer.last_test_print_text.startswith("ok at ")


def test_side_facts_that_fail_or_hang_do_not_stop_the_report(
        devices: list[StandIn], report_kwargs: dict[str, Any], tmp_path: Path) -> None:
    def broken() -> Any:
        raise OSError("disk gone")

    report = build_report(devices, level="internal",
                          **{**report_kwargs, "host": broken, "outbox_stats": broken})
    assert report.host.disk.detail == "raised OSError: disk gone"
    assert not report.outbox.available and report.verdict == "degraded"


class _StaleUntilRefreshed(StandIn):
    """Offline by its own (stale) state until an external check talks to it."""

    def check_health(self, level: HealthLevel = HealthLevel.INTERNAL) -> Any:
        if level is HealthLevel.EXTERNAL:
            self.set_status(DeviceStatus.ONLINE)
        return super().check_health(level)


def test_a_fresher_external_check_supersedes_a_stale_internal_state(
        report_kwargs: dict[str, Any]) -> None:
    stale = _StaleUntilRefreshed("printer", DeviceStatus.OFFLINE)
    others = [StandIn(n) for n in ("idcard", "qr", "camera")]
    internal = build_report([*others, stale], level="internal", **report_kwargs)
    assert internal.verdict == "degraded" and internal.devices[3].status == "offline"
    external = build_report([*others, stale], level="external", **report_kwargs)
    assert [c.ok for c in external.devices[3].checks] == [False, True]
    assert external.devices[3].status == "online" and external.verdict == "ready"


def test_device_model_drivers_are_diagnosable(tmp_path: Path) -> None:
    from hardware.printer.config import PrinterConfig
    from hardware.printer.driver import CupsPrinter
    from kiosk.diag.protocol import Diagnosable

    assert isinstance(StandIn("qr"), Diagnosable)
    printer = CupsPrinter(PrinterConfig(), server="127.0.0.1:1", state_dir=tmp_path)
    try:
        assert isinstance(printer, Diagnosable)
    finally:
        printer.close()
