"""The appointment screens (预约办, issue 17) in a real Kivy window under Xvfb, driven by
simulated touches and the device simulators (the identity code on the scanner, the slip
through cupsd to the printer emulator), one subprocess per language, in parallel
(tests/screens/run_appointments.py). Every screen in standard and elderly mode; screenshots:
test-artifacts/screens/appointments/<lang>/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.screens.parallel import assert_ok, per_language, run_parallel

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screens" / "appointments"
LANGS = ("zh_CN", "zh_HK", "en")
FULL = {"zh_CN": "已约满", "zh_HK": "已約滿", "en": "full"}
CANCELLED = {"zh_CN": "预约已取消。", "zh_HK": "預約已取消。",
             "en": "The appointment is cancelled."}


@pytest.fixture(scope="module")
def runs() -> dict[str, dict[str, Any]]:
    return run_parallel("tests.screens.run_appointments", per_language(LANGS), ARTIFACTS)


def _ok(run: dict[str, Any]) -> None:
    assert_ok(run)


@pytest.mark.parametrize("lang", LANGS)
def test_a_counter_matter_offers_a_visit_at_the_halls_of_this_district_first(
        runs: dict[str, Any], lang: str) -> None:
    run = runs[lang]
    _ok(run)
    booking = run["booking"]
    assert booking["offered"] is True
    assert booking["halls"] == ["nh-admin-centre", "nh-guicheng", "nh-dali", "cc-admin-centre"]
    assert booking["back_to_halls"] is True  # back steps inside the flow, the session stays
    assert run["back_on_result"] is True and run["view_after_finish"] == ""


@pytest.mark.parametrize("lang", LANGS)
def test_a_full_slot_says_so_and_cannot_be_chosen(runs: dict[str, Any], lang: str) -> None:
    run = runs[lang]
    _ok(run)
    booking = run["booking"]
    assert booking["full_disabled"] is True and booking["full_tappable"] is False
    assert FULL[lang] in booking["full_text"]  # in words, not colour alone


@pytest.mark.parametrize("lang", LANGS)
def test_the_slip_is_printed_with_the_number_and_check_code_only(runs: dict[str, Any],
                                                                 lang: str) -> None:
    run = runs[lang]
    _ok(run)
    booking = run["booking"]
    assert booking["slip"] == "printed" and booking["printed_jobs"] == 1
    assert booking["qr"] == [booking["qr_expected"]]
    assert booking["qr"][0] == f"YYBL:{run['booked_no']}:{run['booked_check']}"
    assert booking["qr_personal"] == []


@pytest.mark.parametrize("lang", LANGS)
def test_the_number_on_screen_is_masked_unless_held(runs: dict[str, Any], lang: str) -> None:
    run = runs[lang]
    _ok(run)
    assert run["booking"]["number_whole_on_screen"] is False
    assert run["booking"]["number_when_held"] is True
    assert run["mine"]["number_whole_on_screen"] is False


@pytest.mark.parametrize("lang", LANGS)
def test_my_appointments_after_identifying_and_cancel_with_a_confirm_step(
        runs: dict[str, Any], lang: str) -> None:
    run = runs[lang]
    _ok(run)
    mine = run["mine"]
    number = run["booked_no"]
    assert mine["asked_to_identify"] == "appointments_identify_first"
    assert mine["listed"] == [number]
    assert mine["kept"] == [number]  # "keep it" at the question cancels nothing
    assert mine["cancelled_message"] == CANCELLED[lang]
    assert mine["after_cancel"] == [] and mine["on_platform"] == []


@pytest.mark.parametrize("lang", LANGS)
def test_elderly_mode_has_larger_targets_and_fewer_days_at_once(runs: dict[str, Any],
                                                                lang: str) -> None:
    run = runs[lang]
    _ok(run)
    heights = run["booking"]["heights"]
    assert heights["elderly"] >= 1.5 * heights["standard"]
    assert heights["elderly_days"] == 6 and heights["elderly_paging"] is True
    assert heights["standard_days"] >= 6


@pytest.mark.parametrize("lang", LANGS)
def test_nothing_of_the_citizen_survives_the_session(runs: dict[str, Any], lang: str) -> None:
    run = runs[lang]
    _ok(run)
    assert run["mine"]["view_after_leaving"] == ""
    assert run["mine"]["leftovers"] == []
    assert all(not use["unused"] for use in run.get("devices", {}).values())


@pytest.mark.parametrize("lang", LANGS)
def test_screenshots_of_every_appointment_screen_in_both_modes(runs: dict[str, Any],
                                                               lang: str) -> None:
    run = runs[lang]
    _ok(run)
    shots = sorted(p.name for p in (ARTIFACTS / lang).glob("*.png"))
    for step in ("result-offer", "halls", "slots", "slots-day", "confirm", "booked",
                 "booked-hold", "mine-identify-first", "mine", "cancel-question",
                 "mine-cancelled"):
        assert any(name.endswith(f"-{step}.png") for name in shots), (step, shots)
    for step in ("halls", "slots", "confirm", "booked", "mine", "cancel-question"):
        assert any(name.endswith(f"-{step}-elderly.png") for name in shots), (step, shots)
