"""End-to-end journeys in a real Kivy window under Xvfb, driven by simulated touches and the
device simulators: a personal and an enterprise matter in each language; in zh_CN also
elderly mode and faults (card pulled, backend cut, double taps, printer out of paper,
inactivity). One subprocess per language (Kivy makes one window per process), run in
parallel. Screenshots of every step: test-artifacts/screens/<lang>/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screens"
LANGS = ("zh_CN", "zh_HK", "en")
FULL = "zh_CN"


@pytest.fixture(scope="module")
def runs() -> dict[str, dict[str, Any]]:
    procs = {}
    for lang in LANGS:
        out = ARTIFACTS / f"{lang}.json"
        art = ARTIFACTS / lang
        if art.exists():
            for png in art.rglob("*.png"):
                png.unlink()
        art.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "tests.screens.run_journeys", lang, str(out), str(art)]
        if lang == FULL:
            args.append("--full")
        env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}  # always Xvfb
        procs[lang] = (subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE), out)
    results = {}
    for lang, (proc, out) in procs.items():
        try:
            _, err = proc.communicate(timeout=540)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        data = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
        data.setdefault("ok", False)
        data["stderr_tail"] = err.decode(errors="replace")[-2000:]
        results[lang] = data
    return results


def _ok(run: dict[str, Any]) -> None:
    assert run["ok"], run.get("traceback") or run.get("error") or run["stderr_tail"]


@pytest.mark.parametrize("lang", LANGS)
def test_personal_journey_prints_and_leaves_nothing(runs: dict[str, Any], lang: str) -> None:
    run = runs[lang]
    _ok(run)
    assert run["personal"]["state"] in ("approved", "result_issued")
    assert run["personal"]["application_no"]
    assert run["personal"]["printed"] is True
    assert run["personal"]["receipt_qr"].startswith("GZDOC1.ref-platform.receipt.")
    assert run["personal_leftovers"] == []
    shots = sorted(p.name for p in (ARTIFACTS / lang).glob("*.png"))
    for step in ("attract", "home", "guide", "consent", "certificates", "form", "review",
                 "result", "delivery", "rating", "goodbye"):
        assert any(name.endswith(f"-{step}.png") for name in shots), (step, shots)


@pytest.mark.parametrize("lang", LANGS)
def test_enterprise_journey_applies_as_the_enterprise(runs: dict[str, Any], lang: str) -> None:
    run = runs[lang]
    _ok(run)
    assert run["enterprise"]["applicant_kind"] == "legal"
    assert run["enterprise"]["application_no"]
    assert run["enterprise_leftovers"] == []


def test_elderly_mode_journey(runs: dict[str, Any]) -> None:
    run = runs[FULL]
    _ok(run)
    assert run["elderly"]["printed"] is True
    assert run["elderly_fs"] == 1.0  # reset for the next citizen
    assert run["elderly_leftovers"] == []
    assert any((ARTIFACTS / FULL / "elderly").glob("*-form.png"))


def test_faults_end_in_clear_messages(runs: dict[str, Any]) -> None:
    run = runs[FULL]
    _ok(run)
    f = run["faults"]
    assert f["card_pulled"]["state"] == "home" and f["card_pulled"]["holder_kept"]
    assert f["card_pulled"]["message"]
    assert f["backend_cut"]["key"] == "backend_down"
    assert f["backend_cut"]["state"] == "consent" and f["backend_cut"]["holder_kept"]
    assert "Traceback" not in f["backend_cut"]["message"]
    assert f["double_submit_state"] == "result"
    assert f["printer_out"]["state"] == "delivery" and f["printer_out"]["receipt_kept"]
    assert "打印" in f["printer_out"]["message"] and "邮寄" in f["printer_out"]["message"]
    assert f["leftovers_after_faults"] == []
    assert 0 < f["warning_seconds"] <= 20
    assert f["after_more_time"] in ("home", "face_consent")
    assert f["after_timeout"] == "attract"
    assert f["wiped"] == {}
    assert f["leftovers_after_timeout"] == []


def test_frame_gaps_outside_screen_loads(runs: dict[str, Any]) -> None:
    """The UI thread never waits on a device or the backend: face checks, backend calls and
    printing (seconds each) happen during these journeys, yet no frame gap outside screen
    loads comes near them. Buffer swaps (software rendering under Xvfb) are left out, so the
    gaps are the UI thread's own work. Issue 8's target is 100 ms on kiosk hardware; three
    windows sharing two busy cores cannot show that, so the bound here only catches blocking
    work on the UI thread. Figures are kept in test-artifacts/screens/<lang>.json."""
    for lang in LANGS:
        _ok(runs[lang])
        frames = runs[lang]["frames"]
        assert frames["frames"] > 50
        assert frames["max_gap_s"] < 2.0, frames
