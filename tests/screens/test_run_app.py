"""``kiosk run`` with the UI comes up to the attract screen under Xvfb, marks itself ready
and exits cleanly when asked (the path the cold-start benchmark and supervisors use)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from screens.testing import sim_config
from screens.xvfb import Xvfb

ROOT = Path(__file__).resolve().parents[2]


def test_kiosk_run_ui_reaches_attract_and_exits(tmp_path: Path) -> None:
    sim_config(tmp_path, 540, 960)  # writes tmp_path/site.yaml
    ready = tmp_path / "ready"
    with Xvfb(540, 960) as x:
        env = {**os.environ, "DISPLAY": str(x.display)}
        proc = subprocess.run(
            [sys.executable, "-m", "kiosk.cli", "run", "--config", str(tmp_path / "site.yaml"),
             "--profile", "simulation", "--ready-file", str(ready), "--exit-when-ready"],
            cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    assert ready.read_text(encoding="utf-8") == "ready\n"
    assert b"Traceback" not in proc.stderr


def test_xvfb_exports_and_restores_display() -> None:
    before = os.environ.get("DISPLAY")
    with Xvfb(320, 240) as x:
        assert os.environ["DISPLAY"] == x.display
        assert Path(f"/tmp/.X11-unix/X{str(x.display)[1:]}").exists()
    assert os.environ.get("DISPLAY") == before
