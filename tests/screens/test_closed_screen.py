"""The closed screen in a real Kivy window under Xvfb, on a wall clock the run sets and a
simulated sysfs backlight, one subprocess per language (Kivy makes one window per process),
run in parallel (tests/screens/run_closed.py). Screenshots of every step, elderly mode
included: test-artifacts/screens/closed/<lang>/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.screens.parallel import assert_ok, per_language, run_parallel

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
    return run_parallel("tests.screens.run_closed", per_language(LANGS), ARTIFACTS)


def _ok(run: dict[str, Any]) -> None:
    assert_ok(run)


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
