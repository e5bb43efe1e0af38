"""`kiosk run --no-ui` has the same diagnostics as the UI (attached once, by the composition
root): the real headless process with its simulators goes out of service when the critical
card reader fails (a `sim` fault through the reader simulator's control socket) and comes back
by itself when the fault clears, with the service gate's audit trail, the persisted counters
and the technician's flag followed while it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hardware.sim.control import SimClient
from kiosk import compose
from kiosk.config import load_config
from tests.kiosk.diag.maint_kiosk import KIOSK_ID, kiosk_environ

ROOT = Path(__file__).resolve().parents[3]
BOOT_S = 90.0  # a kiosk process boots its simulators on a loaded 2-core machine


def wait_for(predicate: Callable[[], bool], timeout: float, what: str,
             proc: subprocess.Popen[bytes] | None = None, log: Path | None = None) -> None:
    """Poll ``predicate`` until it holds (a deadline; the process must stay alive)."""
    end = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the kiosk exited ({proc.returncode}) waiting for {what}:\n"
                                 f"{tail}")
        if time.monotonic() >= end:
            raise AssertionError(f"timed out waiting for {what}:\n{tail}")
        pause.wait(0.1)


def audit(var_dir: Path) -> list[dict[str, Any]]:
    path = var_dir / "audit.jsonl"
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def modes(var_dir: Path) -> list[str]:
    return [r["outcome"] for r in audit(var_dir) if r["event"] == "service.mode"]


@pytest.fixture
def headless(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, SimClient, Path]]:
    var_dir = tmp_path / "var"
    control = tmp_path / "idcard.sock"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK__")}
    env.update(kiosk_environ(var_dir), PYTHONPATH=str(ROOT),
               KIOSK__IDCARD__PORT=f"sim://idcard?cards=demo&control={control}",
               KIOSK__PRINTER__ENABLED="false", KIOSK__CAMERA__ENABLED="false")
    log = tmp_path / "kiosk.log"
    ready = tmp_path / "ready"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--no-ui",
                                 "--profile", "simulation", "--ready-file", str(ready)],
                                cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=out)
    try:
        wait_for(ready.exists, BOOT_S, "the kiosk ready", proc, log)
        yield proc, var_dir, SimClient(str(control)), log
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)


def test_headless_kiosk_goes_out_of_service_and_back_by_itself(
        headless: tuple[subprocess.Popen[bytes], Path, SimClient, Path]) -> None:
    proc, var_dir, reader, log = headless
    assert (var_dir / "diag-counters.sqlite").exists()  # the counters are kept
    reader.call("fault", kind="sam_60")  # the critical card reader fails its self-test
    wait_for(lambda: modes(var_dir)[-1:] == ["out_of_service"], 30, "out of service", proc,
             log)
    out = next(r for r in reversed(audit(var_dir)) if r["event"] == "service.mode")
    assert out["detail"]["reasons"] == ["device:idcard"]
    reader.call("fault", kind="none")
    wait_for(lambda: modes(var_dir)[-1:] == ["in_service"], 30, "back in service", proc, log)
    assert modes(var_dir)[-2:] == ["out_of_service", "in_service"]
    # a technician's flag set over SSH is followed while the kiosk runs (the gate's watch)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK__")}
    env.update(kiosk_environ(var_dir), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "kiosk.cli", "diag", "service", "out",
                           "--note", "replacing the reader", "--profile", "simulation"],
                          cwd=ROOT, env=env, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    wait_for(lambda: modes(var_dir)[-1:] == ["out_of_service"], 15, "the flag followed",
             proc, log)
    assert proc.poll() is None


def test_the_composition_root_attaches_diagnostics_once(tmp_path: Path) -> None:
    cfg = load_config(profile="simulation", environ={
        **kiosk_environ(tmp_path / "var"), "KIOSK__PRINTER__ENABLED": "false",
        "KIOSK__CAMERA__ENABLED": "false"})
    assert cfg.kiosk.id == KIOSK_ID
    with compose.running(cfg) as core:
        diag = core.diagnostics
        assert diag is not None and diag.gate.mode == "in_service"
        assert core.session.refusal() is None
        diag.gate.hold_for_maintenance("login")  # the maintenance hook is on the machine
        assert core.session.refusal() == "maintenance"
        diag.gate.release_maintenance()
    assert diag.gate._thread is None
    with compose.running(cfg, diagnostics=False) as bare:
        assert bare.diagnostics is None
