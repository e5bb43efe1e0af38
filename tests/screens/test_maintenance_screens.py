"""The technician's screens in a real Kivy window under Xvfb, driven by simulated touches and
the device simulators, one subprocess per language (Kivy makes one window per process), run
in parallel (tests/screens/run_maintenance.py). Screenshots of every step:
test-artifacts/screens/maintenance/<lang>/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.screens.parallel import assert_ok, per_language, run_parallel

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screens" / "maintenance"
LANGS = ("zh_CN", "zh_HK", "en")
FULL = "zh_CN"  # also: the platform unreachable past the limit


@pytest.fixture(scope="module")
def runs() -> dict[str, dict[str, Any]]:
    return run_parallel("tests.screens.run_maintenance", per_language(LANGS, {FULL: ("--full",)}),
                        ARTIFACTS)


def _ok(run: dict[str, Any]) -> None:
    assert_ok(run)


@pytest.mark.parametrize("lang", LANGS)
def test_out_of_service_appears_and_leaves_by_itself(runs: dict[str, Any], lang: str) -> None:
    run = runs[lang]
    _ok(run)
    oos = run["oos"]
    assert oos["start_refused"] and oos["back_by_itself"]
    assert any("12345" in t for t in oos["texts"])  # the configured alternative
    assert any("暂停服务 · 暫停服務 · Out of service" in t for t in oos["texts"])
    if lang == FULL:  # the platform unreachable for longer than the limit (10 s here)
        assert oos["backend_back"] and oos["backend_after_s"] >= 5
    assert run["guided"]["oos_after_exit"] and run["guided"]["attract_after"]


@pytest.mark.parametrize("lang", LANGS)
def test_refused_tokens_wrong_pin_and_the_lock_out_at_the_prompt(runs: dict[str, Any],
                                                                 lang: str) -> None:
    run = runs[lang]
    _ok(run)
    prompt = run["prompt"]
    assert prompt["first"] is True
    for case in ("forged", "expired", "other_kiosk", "replayed", "wrong_pin_locks",
                 "lockout_holds"):
        assert prompt[case] is True, (case, prompt)
    assert prompt["maintenance_after_lockout"] is False
    assert prompt["prompt_closed_by_itself"] is True
    assert prompt["after_lockout"] is True  # the lock-out ends; the right token opens it


@pytest.mark.parametrize("lang", LANGS)
def test_no_citizen_on_the_technician_screens_after_a_journey(runs: dict[str, Any],
                                                              lang: str) -> None:
    run = runs[lang]
    _ok(run)
    after = run["after_journey"]
    assert after["citizen_state"] != "attract" and after["wiped"] is True
    assert after["granted"] is True
    assert after["prompt_personal"] == [] and after["maintenance_personal"] == []
    assert after["leftovers"] == []
    assert run["guided"]["card_personal"] == []


@pytest.mark.parametrize("lang", LANGS)
def test_the_report_names_each_fault_and_comes_back(runs: dict[str, Any], lang: str) -> None:
    run = runs[lang]
    _ok(run)
    f = run["faults"]
    assert f["idcard"]["verdict"] == "out_of_service" and f["idcard"]["named"]
    words = {"zh_CN": ("身份证阅读器", "打印机", "摄像头", "后台"),
             "zh_HK": ("身份證閱讀器", "打印機", "攝像頭", "後台"),
             "en": ("ID-card reader", "printer", "camera", "platform")}[lang]
    assert any(words[0] in r for r in f["idcard"]["reasons"])
    assert f["idcard_back"] == "ready"
    assert f["paper"]["verdict"] == "degraded"
    assert any(words[1] in r for r in f["paper"]["reasons"])
    assert f["paper_back"] == "ready"
    assert f["camera"]["verdict"] == "degraded" and f["camera"]["status"] != "online"
    assert any(words[2] in r for r in f["camera"]["reasons"])
    assert f["backend"]["verdict"] == "degraded"
    assert any(words[3] in r for r in f["backend"]["reasons"])
    assert f["ready_again"] == {"verdict": "ready", "reasons": []}


@pytest.mark.parametrize("lang", LANGS)
def test_guided_tests_preview_and_screenshots(runs: dict[str, Any], lang: str) -> None:
    run = runs[lang]
    _ok(run)
    shots = sorted(p.name for p in (ARTIFACTS / lang).glob("*.png"))
    for step in ("out-of-service", "prompt", "maintenance", "fault-card-reader",
                 "fault-paper-out", "fault-camera-gone", "fault-platform-down",
                 "camera-preview-face-box", "guided-card-reader", "prompt-locked"):
        assert any(name.endswith(f"-{step}.png") for name in shots), (step, shots)
