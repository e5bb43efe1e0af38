"""The bundle screens (一件事一次办, issue 17) in a real Kivy window under Xvfb, driven by
simulated touches and the device simulators (the identity code on the scanner), one
subprocess per language, in parallel (tests/screens/run_bundles.py). Every bundle screen in
standard and elderly mode; screenshots: test-artifacts/screens/bundles/<lang>/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.screens.parallel import assert_ok, per_language, run_parallel

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screens" / "bundles"
LANGS = ("zh_CN", "zh_HK", "en")
NEWBORN = ["newborn-birth-cert", "birth-registration", "newborn-medical-insurance",
           "newborn-social-card"]
REFUSED_WHY = {"zh_CN": "所需的电子证照无效", "zh_HK": "所需的電子證照無效",
               "en": "A certificate it needs is not valid"}
SCREENS = ("home-bundles", "overview", "form", "review", "receipt", "receipt-partial")


@pytest.fixture(scope="module")
def runs() -> dict[str, dict[str, Any]]:
    return run_parallel("tests.screens.run_bundles", per_language(LANGS), ARTIFACTS)


def _ok(run: dict[str, Any]) -> None:
    assert_ok(run)


@pytest.mark.parametrize("lang", LANGS)
def test_home_offers_bundles_and_asks_to_identify_first(runs: dict[str, Any],
                                                        lang: str) -> None:
    run = runs[lang]
    _ok(run)
    got = run["newborn"]
    assert got["tiles"] == ["bundle:newborn", "bundle:retirement"]
    assert got["asked_to_identify"] == "bundle_identify_first"
    assert got["steps"] == NEWBORN  # the overview lists the steps in order


@pytest.mark.parametrize("lang", LANGS)
def test_one_form_each_field_once_identifiers_masked(runs: dict[str, Any], lang: str) -> None:
    run = runs[lang]
    _ok(run)
    got = run["newborn"]
    assert sorted(got["fields"]) == sorted(set(got["fields"]))
    assert {"name", "id_number", "child_name", "phone"} <= set(got["fields"])
    assert "phone" not in got["readonly"] and "child_name" in got["readonly"]
    assert got["id_whole_on_review"] is False and got["id_when_held"] is True


@pytest.mark.parametrize("lang", LANGS)
def test_receipt_lists_each_matter_under_one_number(runs: dict[str, Any], lang: str) -> None:
    run = runs[lang]
    _ok(run)
    got = run["newborn"]
    assert got["outcome"] == "done" and got["number"].startswith("YJ-")
    assert list(got["states"]) == NEWBORN and all(got["states"].values())
    assert got["numbers_shown"] is True
    assert got["view_after_finish"] == "" and got["leftovers"] == []


@pytest.mark.parametrize("lang", LANGS)
def test_a_failed_matter_says_why_and_the_others_stand(runs: dict[str, Any],
                                                       lang: str) -> None:
    run = runs[lang]
    _ok(run)
    got = run["retirement"]
    assert got["outcome"] == "partial"
    # the header follows the bundle's own steps (it stayed on "choose" before)
    assert got["header_at_form"] == ["fill", ["identify", "choose"]]
    assert got["header_at_receipt"] == ["collect", ["identify", "choose", "fill", "submit"]]
    assert got["back_to_form"] is True and got["kept_phone"] == "13900139000"
    assert any(REFUSED_WHY[lang] in t for t in got["failed_texts"])
    assert got["leftovers"] == []


@pytest.mark.parametrize("lang", LANGS)
def test_every_bundle_screen_is_shot_standard_and_elderly(runs: dict[str, Any],
                                                          lang: str) -> None:
    _ok(runs[lang])
    shots = {p.stem.split("-", 1)[1] for p in (ARTIFACTS / lang).glob("*.png")}
    for name in SCREENS:
        assert name in shots and f"{name}-elderly" in shots, name


PRINTED = {"zh_CN": "回执已打印，请取走", "zh_HK": "回執已列印，請取走",
           "en": "Receipt printed: please take it"}
AGAIN = {"zh_CN": "再打印一份", "zh_HK": "再列印一份", "en": "Print another copy"}


@pytest.mark.parametrize("lang", LANGS)
def test_the_bundle_receipt_prints_with_the_reason_the_screen_gave(runs: dict[str, Any],
                                                                    lang: str) -> None:
    """Printed through cupsd to the printer emulator, in the documents' language (zh_CN)
    whatever the screen's: the receipt number, the failed matter and why."""
    _ok(runs[lang])
    got = runs[lang]["retirement"]["print"]
    assert got["state"] == "printed" and got["jobs"] == 1
    assert got["text"] == "✓ " + PRINTED[lang] and got["button"] == AGAIN[lang]
    assert "一件事一次办回执" in got["paper"] and "不予受理" in got["paper"]  # refused
    assert REFUSED_WHY["zh_CN"] in got["paper"]
    shots = [p.name for p in (ARTIFACTS / lang).glob("*-receipt-printed.png")]
    assert shots
