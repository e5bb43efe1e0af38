"""`kiosk diag report --profile simulation --json` on the real simulated devices, opened by
the one composition root: each fault names its device and reason, and the verdict comes back
to ready once the fault is gone (issue 13)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[3]


def report(tmp_path: Path, *extra: str, **env: str) -> tuple[int, dict[str, Any]]:
    environ = {**os.environ, "KIOSK__VAR_DIR": str(tmp_path / "var"), **env}
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "diag", "report", "--profile",
                           "simulation", "--json", *extra], capture_output=True, text=True,
                          timeout=120, env=environ, cwd=tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc.returncode, json.loads(proc.stdout)


def device(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(d for d in result["devices"] if d["name"] == name)


@pytest.mark.parametrize("env, name, verdict, words", [
    ({"KIOSK__IDCARD__PORT": "/dev/kiosk-no-such-reader"}, "idcard", "out_of_service",
     "ID-card reader"),
    ({"KIOSK__IDCARD__PORT": "sim://idcard?cards=demo&fault=sam_60"}, "idcard",
     "out_of_service", "ID-card reader"),
    ({"KIOSK__CAMERA__SOURCE": "sim://faces?fault=unplug"}, "camera", "degraded", "camera"),
    ({"KIOSK__BACKEND__KIND": "http", "KIOSK__BACKEND__URL": "http://127.0.0.1:9",
      "KIOSK__BACKEND__RETRIES": "0"}, None, "degraded", "platform"),
])
def test_a_fault_is_named_and_the_verdict_comes_back(tmp_path: Path, env: dict[str, str],
                                                      name: str | None, verdict: str,
                                                      words: str) -> None:
    rc, faulty = report(tmp_path, **env)
    assert rc == 1 and faulty["verdict"] == verdict, faulty["reasons"]
    assert any(words.lower() in r.lower() for r in faulty["reasons"]), faulty["reasons"]
    if name is not None:
        dev = device(faulty, name)
        assert dev["status"] != "online" or dev["unavailable"]
    rc, fixed = report(tmp_path)  # the technician fixed it
    assert (rc, fixed["verdict"], fixed["reasons"]) == (0, "ready", [])
    assert {d["name"] for d in fixed["devices"]} == {"idcard", "qr", "camera", "printer"}
    assert all(d["status"] == "online" for d in fixed["devices"])


def test_external_level_prints_a_test_page_and_keeps_no_citizen(tmp_path: Path) -> None:
    rc, result = report(tmp_path, "--level", "external",
                        "--pdf", str(tmp_path / "report.pdf"))
    assert result["verdict"] == "ready" and rc == 0, result["reasons"]
    printer = device(result, "printer")
    assert any(c["level"] == "external" and c["ok"] for c in printer["checks"])
    text = json.dumps(result, ensure_ascii=False)
    for secret in ("陈美玲", "44060519480118102X"):
        assert secret not in text
