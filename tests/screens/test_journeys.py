"""End-to-end journeys in a real Kivy window under Xvfb, driven by simulated touches and the
device simulators, liveness on and every card through the simulated reader: a personal and
an enterprise matter, the attract screen, the header's countdown and a personal matter in
elderly mode (with voice) in each language; in zh_CN also
faults (card pulled, backend cut, double taps, printer out of paper, inactivity). One
subprocess per language (Kivy makes one window per process), run in parallel. Screenshots of
every step: test-artifacts/screens/<lang>/ (elderly/, round2/: attract and countdown)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.screens.parallel import assert_ok, per_language, run_parallel

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screens"
LANGS = ("zh_CN", "zh_HK", "en")
FULL = "zh_CN"


@pytest.fixture(scope="module")
def runs() -> dict[str, dict[str, Any]]:
    return run_parallel("tests.screens.run_journeys", per_language(LANGS, {FULL: ("--full",)}),
                        ARTIFACTS, timeout_s=540)


def _ok(run: dict[str, Any]) -> None:
    assert_ok(run)


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
def test_journeys_pass_liveness_through_the_reader(runs: dict[str, Any], lang: str) -> None:
    """Issue 17: liveness on; each identification is a card read by the simulated reader and
    a face check whose challenges the camera simulator acts out; the driver recorded no
    device path it meant a journey to use (reader, camera, printer) that served nothing
    (it fails the run when one did not)."""
    run = runs[lang]
    _ok(run)
    assert run["liveness"] is True
    full = lang == FULL  # the faults: one more face check, two more cards, one more print
    use = run["device_use"]
    assert use["idcard"]["meant"] >= (5 if full else 3), use
    assert use["camera"]["meant"] >= (4 if full else 3), use
    assert use["printer"]["meant"] >= (3 if full else 2), use
    assert all(u["unused"] == [] and u["served"] >= u["meant"] for u in use.values()), use
    checks = run["face_checks"]
    assert checks["verified"] >= use["camera"]["meant"], checks
    assert len(checks["challenges"]) >= 2 * checks["verified"], checks
    assert {"challenge_turn_left", "challenge_turn_right"} & set(checks["challenges"])


@pytest.mark.parametrize("lang", LANGS)
def test_enterprise_journey_applies_as_the_enterprise(runs: dict[str, Any], lang: str) -> None:
    run = runs[lang]
    _ok(run)
    assert run["enterprise"]["applicant_kind"] == "legal"
    assert run["enterprise"]["application_no"]
    assert run["enterprise_leftovers"] == []


@pytest.mark.parametrize("lang", LANGS)
def test_identifiers_masked_on_every_screen_except_while_held(runs: dict[str, Any],
                                                              lang: str) -> None:
    """Issue 17: after every frame of every journey (personal, enterprise, elderly; in zh_CN
    also faults) no label shows a demo ID number, credit code or phone number
    whole, except while the review screen's reveal button is held."""
    run = runs[lang]
    _ok(run)
    assert run["masking"]["exposed"] == []
    assert run["review_hold"] == {"before": False, "held": True, "after": False}
    assert any("review" in where for where in run["masking"]["revealed"])


@pytest.mark.parametrize("lang", LANGS)
def test_elderly_mode_journey(runs: dict[str, Any], lang: str) -> None:
    run = runs[lang]
    _ok(run)
    assert run["elderly"]["printed"] is True
    assert run["elderly_fs"] == 1.0  # reset for the next citizen
    assert run["elderly_after"] == {"cantonese": False, "dialect": ""}
    assert run["elderly_leftovers"] == []
    assert any((ARTIFACTS / lang / "elderly").glob("*-form.png"))


EXPECTED_STEPS = {  # screen -> (highlighted step, ticked steps); the card identified first
    "home": ("choose", ["identify"]), "guide": ("choose", ["identify"]),
    "consent": ("fill", ["identify", "choose"]),
    "certificates": ("fill", ["identify", "choose"]), "form": ("fill", ["identify", "choose"]),
    "review": ("submit", ["identify", "choose", "fill"]),
    "result": ("collect", ["identify", "choose", "fill", "submit"]),
    "delivery": ("collect", ["identify", "choose", "fill", "submit"]),
    "rating": ("collect", ["identify", "choose", "fill", "submit"]),
    "goodbye": ("collect", ["identify", "choose", "fill", "submit", "collect"]),
}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("mode", ["header", "elderly_header"])
def test_header_shows_the_step_and_the_whole_title(runs: dict[str, Any], lang: str,
                                                   mode: str) -> None:
    """Issue 17: the step indicator highlights the current step (words and a filled shape)
    and ticks the finished ones; the title is never cut short ("政...助"), in any language,
    in standard and in elderly mode."""
    from screens.i18n import tr

    run = runs[lang]
    _ok(run)
    seen = run[mode]
    assert set(seen) >= set(EXPECTED_STEPS) | {"attract"}
    assert seen["attract"]["steps_shown"] is False and seen["attract"]["current"] == []
    for screen, (current, done) in EXPECTED_STEPS.items():
        got = seen[screen]
        assert got["steps_shown"], screen
        assert (got["current"], got["done"]) == ([current], done), screen
        assert tr(f"step_{current}", lang) in got["current_text"][0]
    for screen, got in seen.items():
        assert got["title_whole"], (screen, got["title_lines"])
        assert "…" not in "".join(got["title_lines"]) and "..." not in "".join(got["title_lines"])


@pytest.mark.parametrize("lang", LANGS)
def test_countdown_in_the_header_before_the_warning(runs: dict[str, Any], lang: str) -> None:
    from screens.i18n import tr

    run = runs[lang]
    _ok(run)
    c = run["countdown"]
    assert c["fresh"] == "" and c["after_more_time"] == ""
    assert c["counting"] in {tr("countdown", lang, seconds=n) for n in range(28, 36)}, c
    assert c["warning_at_35"] is False  # the header counts before the overlay warns
    assert c["under_warning"]
    assert any((ARTIFACTS / lang / "round2").glob("*-countdown.png"))


@pytest.mark.parametrize("lang", LANGS)
def test_attract_screen_ways_in_shortcuts_and_notices(runs: dict[str, Any], lang: str) -> None:
    from tests.screens.run_journeys import NOTICES

    run = runs[lang]
    _ok(run)
    a = run["attract"]
    assert a["tiles"] == ["entry:card", "entry:face", "entry:code"]
    assert a["shortcuts"] == sorted(f"shortcut:{m}" for m in (
        "sb-record-print", "hukou-certificate", "housing-fund-print", "elderly-allowance"))
    assert a["notices"][0] == NOTICES[0][lang]  # the operator's notice first, in the language
    assert len(a["notices"]) == 1 + 3  # the expired one left out; then the built-in tips
    assert a["way"] == "code" and a["hint"]
    assert a["shortcut_matter"] == "hukou-certificate"


INSTRUCTIONS = ("attract_voice", "elderly_on_voice", "face_consent_voice", "home_voice",
                "guide_voice", "consent_voice", "certificates_voice", "form_voice",
                "review_voice", "result_done", "delivery_voice", "rating_voice",
                "goodbye_voice")


@pytest.mark.parametrize("lang", LANGS)
def test_elderly_mode_speaks_every_screens_instruction(runs: dict[str, Any],
                                                       lang: str) -> None:
    """Issue 17: in elderly mode each screen's main instruction is spoken, in Mandarin for
    simplified Chinese, Cantonese for traditional Chinese, and Cantonese once chosen in the
    header (zh_CN: chosen on the home screen)."""
    from screens.i18n import tr

    run = runs[lang]
    _ok(run)
    requested = run["elderly_voice"]["requested"]
    for key in INSTRUCTIONS:
        assert any(tr(key, lang) in text for _, text in requested), key
    voices = [voice for voice, _ in requested]
    if lang == "zh_CN":
        switch = next(i for i, (_, text) in enumerate(requested)
                      if tr("voice_cantonese_on", lang) in text)
        assert set(voices[:switch]) == {"cmn"} and set(voices[switch:]) == {"yue"}
    else:
        assert set(voices) == {"zh_HK": {"yue"}, "en": {"en"}}[lang]
    assert run["elderly_voice"]["handed"] > 0  # espeak-ng really ran (silent without audio)
    assert set(run["elderly_voice"]["history_voices"]) <= set(voices)


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
