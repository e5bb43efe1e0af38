"""The core keeps running when devices are missing or the backend does not answer: the
affected devices are disabled with a reason, and the matters that need them are blocked."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hardware.base import DeviceStatus
from kiosk.backend.contract import Unavailable
from kiosk.compose import build
from tests.harness.peers import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_missing_devices_are_disabled_not_fatal(make_config: Callable[..., Any]) -> None:
    allow = {f"policy__allow_unsafe__{key}": "test bench without a platform"
             for key in ("backend.kind", "backend.seed_demo")}
    cfg = make_config("production", backend__kind="embedded", backend__seed_demo="true",
                      idcard__port="/dev/ttyNOSUCHREADER", qr__port="/dev/ttyNOSUCHSCANNER",
                      camera__source="/dev/nonexistent-camera", **allow,
                      printer__cups_server=f"127.0.0.1:{free_port()}",
                      printer__queue="no-such-queue", printer__probe_timeout_s="0.5")
    core = build(cfg)
    try:
        for name in ("idcard", "qr", "camera", "printer"):
            assert not core.devices[name].usable, name
        assert core.devices["idcard"].status in (DeviceStatus.NO_DEVICE, DeviceStatus.OFFLINE)
        matters = core.journey.matters()  # the embedded backend still answers
        printed_here = [m for m in matters if "printer" in m.devices]
        assert printed_here
        assert "printer_down" in core.matter_blockers(printed_here[0])
        free = [m for m in matters if not m.devices]
        assert free and core.matter_blockers(free[0]) == []
        assert "idcard=" in core.summary()
    finally:
        core.stop()


def test_backend_that_does_not_answer(make_config: Callable[..., Any], tmp_path: Path) -> None:
    creds = tmp_path / "cred.json"
    creds.write_text('{"kiosk_id": "kiosk-dev", "token": "t0ken-t0ken-t0ken"}')
    cfg = make_config(backend__kind="http", backend__url=f"http://127.0.0.1:{free_port()}/v1",
                      backend__credentials_file=str(creds), backend__timeout_s="1",
                      backend__retries="0")
    core = build(cfg)
    try:
        with pytest.raises(Unavailable):
            core.journey.matters()
    finally:
        core.stop()


def test_no_ui_run_starts_and_stops_cleanly(tmp_path: Path) -> None:
    env = dict(os.environ, KIOSK__VAR_DIR=str(tmp_path / "var"))
    ready = tmp_path / "ready"
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "run", "--no-ui",
                           "--exit-when-ready", "--ready-file", str(ready)],
                          env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert ready.read_text() == "ready\n"
    assert "ready (idcard=online" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_production_devices_load_no_simulator_and_no_demo_face(tmp_path: Path) -> None:
    """Simulators (and the face renderer of the simulator kit) are imported only where a
    sim:// URL asks for them: a production kiosk's devices never load them."""
    code = """
import sys
from hardware.context import DeviceContext
from hardware.camera.config import CameraConfig
from hardware.idcard.config import IdCardConfig
from hardware.printer.config import PrinterConfig
from hardware.qr.config import QrConfig
from kiosk.compose import open_device
import kiosk.cli, kiosk.compose, kiosk.session.journey
ctx = DeviceContext(var_dir=__import__("pathlib").Path(sys.argv[1]), allow_simulation=False)
for name, section in (("idcard", IdCardConfig(port="/dev/ttyNOSUCH")),
                      ("qr", QrConfig(port="/dev/ttyNOSUCH")),
                      ("camera", CameraConfig(source=sys.argv[1])),
                      ("printer", PrinterConfig(cups_server="127.0.0.1:9", probe_timeout_s=0.2))):
    open_device(name, section, ctx)
loaded = sorted(m for m in sys.modules if m.endswith(".simulator") or m.startswith(
    ("hardware.sim.faces", "hardware.sim.people", "kiosk.demo", "skimage", "screens")))
print(loaded)
"""
    (tmp_path / "frames").mkdir()
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "frames")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
