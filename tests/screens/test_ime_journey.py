"""Chinese input and the address picker in a real Kivy window under Xvfb, driven by
simulated touches (tests/screens/run_ime.py in its own process: one window per process).

zh_CN: "nanhai" typed on the keyboard offers 南海 first; the form's text is typed with pinyin
and its premises picked province -> city -> district -> street; the result is mailed to an
address built with the picker and typed with pinyin, which the journey and the platform
record as shown. zh_HK: traditional candidates. Elderly mode: the field typed alone above
the keyboard. Screenshots: test-artifacts/screens/ime/<zh_CN|zh_HK|elderly>/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screens" / "ime"
PREMISES = "广东省佛山市南海区桂城街道南海大道100号"
MAIL = "广东省佛山市南海区大沥镇广佛路8号"


@pytest.fixture(scope="module")
def run() -> dict[str, Any]:
    if ARTIFACTS.exists():
        for png in ARTIFACTS.rglob("*.png"):
            png.unlink()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = ARTIFACTS / "ime.json"
    out.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}  # always Xvfb
    proc = subprocess.run([sys.executable, "-m", "tests.screens.run_ime", str(out),
                           str(ARTIFACTS)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=600, check=False)
    data = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {"ok": False}
    assert data["ok"], data.get("traceback") or proc.stderr.decode(errors="replace")[-3000:]
    return data


def test_nanhai_typed_offers_nanhai_first(run: dict[str, Any]) -> None:
    zh = run["zh_CN"]
    assert zh["nanhai_page"][0] == "南海"
    assert zh["nanhai_preedit"] == "nan'hai"
    assert zh["form"]["trade_name"] == "南海美食"
    assert zh["form"]["business_scope"] == "餐饮"


def test_the_picker_builds_the_first_lines_of_an_address(run: dict[str, Any]) -> None:
    zh = run["zh_CN"]
    assert zh["picker_opens_at"] == ["广东省", "佛山市", "南海区"]  # config: kiosk.district
    assert zh["form"]["premises"] == PREMISES
    assert zh["mail_prefilled"] == PREMISES  # the form's address is offered for the mail


def test_the_mail_address_is_recorded_as_built(run: dict[str, Any]) -> None:
    zh = run["zh_CN"]
    assert zh["mail_shown"] == MAIL
    assert zh["recorded"] == MAIL and zh["recorded_delivery"] == "mail"
    assert zh["platform"]["delivery"] == "mail"
    assert zh["platform"]["mail_address"] == MAIL
    assert zh["platform"]["form"]["premises"] == PREMISES


def test_nothing_typed_outlives_the_session(run: dict[str, Any]) -> None:
    zh = run["zh_CN"]
    assert zh["leftovers"] == []
    assert zh["engine_cache_after"] == 0  # looked-up pinyin forgotten with the session


def test_keys_are_fast_on_the_ui_thread(run: dict[str, Any]) -> None:
    times = run["zh_CN"]["key_times"]
    assert times["keys"] > 40
    assert times["p95_ms"] < 16, times  # within one frame at 60 Hz
    assert run["zh_CN"]["frames"]["max_gap_s"] < 2.0


def test_zh_hk_gets_traditional_candidates(run: dict[str, Any]) -> None:
    hk = run["zh_HK"]
    assert hk["page"][0] == "廣州"
    assert hk["keys"] == ["q", "中 ⇄ EN"]
    assert "桂城街道" in hk["picker"]  # official names, as the post delivers to them
    assert hk["crumbs"] == ["广东省 ›", "佛山市 ›", "南海区 ›"]


def test_elderly_mode_shows_fewer_larger_candidates(run: dict[str, Any]) -> None:
    old = run["elderly"]
    assert old["page"] == ["广州", "光州", "光轴", "光泽"]
    assert "桂城街道" in old["picker"]


def test_screenshots_for_a_person_to_look_at(run: dict[str, Any]) -> None:
    for folder, names in (("zh_CN", ("01-keyboard-candidates", "02-picker-streets",
                                     "03-picker-provinces", "04-form-address",
                                     "05-mail-picker", "06-mail-address")),
                          ("zh_HK", ("01-keyboard-candidates", "02-picker-streets")),
                          ("elderly", ("01-keyboard-candidates", "02-picker-streets"))):
        for name in names:
            assert (ARTIFACTS / folder / f"{name}.png").stat().st_size > 10_000
