"""告知承诺制 on the touchscreen in a real Kivy window under Xvfb, driven by simulated touches
(finger strokes as UnitTestTouch moves) and the identity-code scanner simulator, one subprocess
per language and one in elderly mode (Kivy makes one window per process), run in parallel
(tests/screens/run_commitments.py). Screenshots: test-artifacts/screens/commitment/<lang>/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.screens.parallel import assert_ok, run_parallel

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screens" / "commitment"
RUNS = {"zh_CN": ("zh_CN",), "zh_HK": ("zh_HK",), "en": ("en",),
        "elderly": ("zh_HK", "--elderly")}


@pytest.fixture(scope="module")
def runs() -> dict[str, dict[str, Any]]:
    return run_parallel("tests.screens.run_commitments", RUNS, ARTIFACTS)


def _journey(run: dict[str, Any]) -> dict[str, Any]:
    assert_ok(run)
    journey: dict[str, Any] = run["journey"]
    return journey


@pytest.mark.parametrize("name", RUNS)
def test_offered_read_and_required(runs: dict[str, Any], name: str) -> None:
    j = _journey(runs[name])
    assert j["offered"]
    assert j["to_form_refused"] == "commitment_required" and j["still_certificates"]
    assert j["text_shown"] and j["text_on_screen"] and j["text_version_shown"]


@pytest.mark.parametrize("name", RUNS)
def test_signature_pad_refuses_empty_and_dot_then_signs(runs: dict[str, Any],
                                                         name: str) -> None:
    j = _journey(runs[name])
    assert j["empty_refused"] == "signature_empty"
    assert j["dot_refused"] == "signature_too_small"
    assert j["cleared"] == 0
    assert (j["before_undo"], j["after_undo"], j["strokes"]) == (2, 1, 3)
    assert j["pad_editable_on_confirm"] is False
    # the PNG made in memory: a real image with ink, small enough for the request
    assert j["png_magic"] and 200 < j["png_bytes"] <= 24 * 1024
    assert 0.005 < j["png_ink"] < 0.3


@pytest.mark.parametrize("name", RUNS)
def test_the_commitment_replaces_the_material_and_nothing_survives(runs: dict[str, Any],
                                                                  name: str) -> None:
    j = _journey(runs[name])
    assert j["held"] and j["signed_tile"] and j["pad_after_confirm"] == 0
    assert j["review_says_committed"]  # not "bring it to a counter"
    assert j["committed"] == ["residence_proof"] and j["on_platform"]
    assert (j["buffer_after"], j["session_after"], j["pad_after"]) == (0, 0, 0)
    assert j["leftovers"] == []
    assert j["devices"]["qr"]["served"] >= 1 and not j["devices"]["qr"]["unused"]


def test_elderly_mode_reads_the_commitment_aloud_on_a_larger_pad(runs: dict[str, Any]) -> None:
    elderly, standard = _journey(runs["elderly"]), _journey(runs["zh_HK"])
    assert any("本人鄭重承諾" in text for text in elderly["spoken_read"])
    assert standard["spoken_read"] == []  # standard mode: silent
    assert elderly["pad_height"] >= 1.5 * standard["pad_height"]
    assert elderly["pad_width"] >= standard["pad_width"] * 0.95


@pytest.mark.parametrize("name", RUNS)
def test_screenshots_of_every_step(runs: dict[str, Any], name: str) -> None:
    _journey(runs[name])
    shots = {p.name.split("-", 1)[1] for p in (ARTIFACTS / name).glob("*.png")}
    wanted = {"certificates-offer.png", "read.png", "sign-empty.png", "signed.png",
              "confirm.png", "certificates-signed.png", "review.png", "result.png"}
    if name != "elderly":
        wanted |= {w.replace(".png", "-elderly.png") for w in wanted
                   if w not in ("review.png", "result.png")}
    assert wanted <= shots
