"""``kiosk diag report``: JSON for operators, text, the PDF, exit codes."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from hardware.base import DeviceStatus
from kiosk.cli import main
from kiosk.config.schema import KioskConfig
from kiosk.diag import cli as diag_cli
from tests.kiosk.diag.conftest import StandIn


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"KIOSK__VAR_DIR": str(tmp_path / "var"), "KIOSK__KIOSK__ID": "kiosk-cli-07"}


def _provider(devices: list[StandIn]) -> diag_cli.DeviceProvider:
    @contextlib.contextmanager
    def provide(cfg: KioskConfig) -> Iterator[diag_cli.DeviceSet]:
        yield diag_cli.DeviceSet(devices)

    return provide


def test_simulation_report_json_on_the_simulated_devices(env: dict[str, str]) -> None:
    out = CliRunner().invoke(main, ["diag", "report", "--profile", "simulation", "--json"],
                             env=env)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["kiosk_id"] == "kiosk-cli-07" and data["verdict"] == "ready"
    assert all(d["status"] == "online" for d in data["devices"])
    assert {d["name"] for d in data["devices"]} == {"idcard", "qr", "camera", "printer"}
    assert data["backend"]["reachable"] and data["backend"]["kind"] == "embedded"
    assert data["outbox"]["available"]
    assert data["host"]["disk"]["free_percent"] is not None


def test_report_of_ready_devices_with_pdf(env: dict[str, str], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    devices = [StandIn(n) for n in ("idcard", "qr", "camera", "printer")]
    monkeypatch.setattr(diag_cli, "device_provider", _provider(devices))
    folder = tmp_path / "reports"
    folder.mkdir()
    out = CliRunner().invoke(main, ["diag", "report", "--profile", "simulation", "--pdf",
                                    str(folder)], env=env)
    assert out.exit_code == 0, out.output
    assert "verdict: ready" in out.output
    pdfs = list(folder.glob("readiness-report__kiosk-cli-07__*.pdf"))
    assert len(pdfs) == 1 and pdfs[0].read_bytes().startswith(b"%PDF")


def test_a_degraded_kiosk_exits_1_and_names_the_fix(env: dict[str, str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    devices = [StandIn(n) for n in ("idcard", "qr", "camera", "printer")]
    devices[3].set_status(DeviceStatus.HARDWARE_ERROR, reasons=["media-jam-error"])
    monkeypatch.setattr(diag_cli, "device_provider", _provider(devices))
    out = CliRunner().invoke(main, ["diag", "report", "--profile", "simulation", "--lang",
                                    "zh_CN"], env=env)
    assert out.exit_code == 1
    assert "verdict: degraded" in out.output
    assert "reason: 打印机: 卡纸 — 打开前盖取出卡住的纸，再关好前盖" in out.output


def test_a_bad_configuration_exits_2_naming_the_key(env: dict[str, str]) -> None:
    out = CliRunner().invoke(main, ["diag", "report"],
                             env={**env, "KIOSK__SERVICE__CRITICAL_DEVICES": "[printr]"})
    assert out.exit_code == 2 and "service.critical_devices" in out.output
