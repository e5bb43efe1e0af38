"""The closed screen in a real Kivy window under Xvfb, on a wall clock the run sets and a
simulated sysfs backlight, one subprocess per language (Kivy makes one window per process),
run in parallel (tests/screens/run_closed.py). Screenshots of every step, elderly mode
included: test-artifacts/screens/closed/<lang>/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screens" / "closed"
LANGS = ("zh_CN", "zh_HK", "en")
WORDS = {  # next opening (Monday evening, Saturday noon), the week, the holiday ahead
    "zh_CN": ("明天（周二）08:30 开始服务", "6月9日（周一）08:30 开始服务", "周一至周五",
              "6月4日（周三）休息"),
    "zh_HK": ("明天（星期二）08:30 開始服務", "6月9日（星期一）08:30 開始服務", "星期一至星期五",
              "6月4日（星期三）休息"),
    "en": ("Opens tomorrow (Tuesday) at 08:30", "Opens on Monday 9 June at 08:30",
           "Monday–Friday", "Wednesday 4 June: closed"),
}


@pytest.fixture(scope="module")
def runs() -> dict[str, dict[str, Any]]:
    procs = {}
    for lang in LANGS:
        out, art = ARTIFACTS / f"{lang}.json", ARTIFACTS / lang
        if art.exists():
            for png in art.glob("*.png"):
                png.unlink()
        art.mkdir(parents=True, exist_ok=True)
        out.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}  # always Xvfb
        procs[lang] = (subprocess.Popen(
            [sys.executable, "-m", "tests.screens.run_closed", lang, str(out), str(art)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), out)
    results = {}
    for lang, (proc, out) in procs.items():
        try:
            _, err = proc.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        data = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
        data.setdefault("ok", False)
        data["stderr_tail"] = err.decode(errors="replace")[-2000:]
        results[lang] = data
    return results


def _ok(run: dict[str, Any]) -> None:
    detail = run.get("traceback") or run.get("error") or run["stderr_tail"]
    assert run["ok"], (run.get("at"), detail[-1500:])


@pytest.mark.parametrize("lang", LANGS)
def test_closing_lets_the_session_finish_then_shows_hours_and_the_alternative(
        runs: dict[str, Any], lang: str) -> None:
    run = runs[lang]
    _ok(run)
    closing = run["closing"]
    assert closing["grace_screen"] == "home"  # the citizen under way was not cut off
    assert closing["state_after"] == "attract" and not closing["start_button"]
    texts = "\n".join(closing["texts"])
    tomorrow, _, week, holiday = WORDS[lang]
    assert "非服务时间 · 非服務時間 · Closed now" in texts
    assert tomorrow in texts and week in texts and holiday in texts
    assert "13:00-17:30" in texts and "12345" in texts


@pytest.mark.parametrize("lang", LANGS)
def test_the_closed_kiosk_starts_nothing_dims_and_wakes_on_touch(runs: dict[str, Any],
                                                                 lang: str) -> None:
    run = runs[lang]
    _ok(run)
    assert run["nothing_starts"] == {"screen": "closed", "state": "attract", "holder": False}
    assert run["dimming"] == {"dimmed": 100, "woken": 1000, "dimmed_again": 100}
    assert run["precedence"] is True  # out of service over closed, then closed again


@pytest.mark.parametrize("lang", LANGS)
def test_words_for_the_weekend_elderly_mode_and_opening_again(runs: dict[str, Any],
                                                              lang: str) -> None:
    run = runs[lang]
    _ok(run)
    words = run["words"]
    assert WORDS[lang][1] in "\n".join(words["weekend_texts"])
    assert words["elderly_screen"] == "closed"
    assert run["opening"] == {"attract": True, "session": True, "live": True,
                              "closed_live": True}
    shots = sorted(p.name for p in (ARTIFACTS / lang).glob("*.png"))
    for step in ("grace-session-goes-on", "closed", "out-of-service-over-closed",
                 "closed-weekend", "closed-elderly", "closed-holiday-ahead", "open-again"):
        assert any(name.endswith(f"-{step}.png") for name in shots), (step, shots)
