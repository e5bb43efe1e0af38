"""The header's step indicator and countdown, from the session states and the machine's own
timeout policy (issue 17)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from kiosk.session.machine import TimeoutPolicy
from kiosk.session.states import State
from screens import i18n
from screens.progress import STEPS, countdown, countdown_from, step_of, steps_done


def test_every_session_state_but_attract_has_a_step() -> None:
    assert step_of("attract") == ""
    for state in State:
        if state is not State.ATTRACT:
            assert step_of(state.value) in STEPS, state


def test_steps_in_journey_order() -> None:
    order = ["home", "guide", "identify", "face_consent", "face", "consent", "certificates",
             "form", "review", "submitting", "result", "delivery", "rating", "goodbye"]
    seen = [step_of(s) for s in order]
    assert seen.index("choose") < seen.index("identify") < seen.index("fill")
    assert seen.index("fill") < seen.index("submit") < seen.index("collect")


@pytest.mark.parametrize(("state", "identified", "matter", "done"), [
    ("home", True, False, ["identify"]),  # card first: identified, now choosing
    ("identify", False, True, ["choose"]),  # matter first: chose, now identifying
    ("guide", False, True, []),
    ("form", True, True, ["identify", "choose"]),
    ("review", True, True, ["identify", "choose", "fill"]),
    ("delivery", True, True, ["identify", "choose", "fill", "submit"]),
    ("goodbye", False, False, list(STEPS)),  # the session is already wiped
])
def test_finished_steps_come_from_the_session(state: str, identified: bool, matter: bool,
                                              done: list[str]) -> None:
    data = SimpleNamespace(identified=identified, matter=object() if matter else None)
    assert steps_done(state, data) == done


@pytest.mark.parametrize(("bundle_step", "current", "done"), [
    ("", "choose", ["identify"]),  # home, no bundle open
    ("overview", "choose", ["identify"]),
    ("form", "fill", ["identify", "choose"]),
    ("review", "submit", ["identify", "choose", "fill"]),
    ("submitting", "submit", ["identify", "choose", "fill"]),
    ("receipt", "collect", ["identify", "choose", "fill", "submit"]),
])
def test_a_bundle_moves_the_header_through_its_own_steps(bundle_step: str, current: str,
                                                         done: list[str]) -> None:
    """The bundle flow shows over home: its step, not home's, is where the citizen is."""
    data = SimpleNamespace(identified=True, matter=None)
    assert step_of("home", bundle_step) == current
    assert steps_done("home", data, bundle_step) == done


def test_countdown_shows_only_in_the_last_part_of_the_timeout() -> None:
    policy = TimeoutPolicy(timeout_s=90, warning_s=20)
    timeout = policy.timeout_for(State.FORM, False)
    assert timeout == 90
    warning = policy.warning_for(timeout, False)
    start = countdown_from(timeout, warning)
    assert warning < start <= timeout / 2  # before the warning overlay, not all the time
    assert countdown(start + 0.5, timeout, warning) == 0
    assert countdown(start - 0.2, timeout, warning) == int(start)
    assert countdown(0.1, timeout, warning) == 1
    assert countdown(None, None, warning) == 0  # attract, submitting: no timer


def test_elderly_citizens_get_longer_and_earlier_countdowns() -> None:
    policy = TimeoutPolicy(timeout_s=90, warning_s=20, elderly_factor=2.0)
    t_std = policy.timeout_for(State.FORM, False) or 0
    t_old = policy.timeout_for(State.FORM, True) or 0
    assert countdown_from(t_old, policy.warning_for(t_old, True)) > countdown_from(
        t_std, policy.warning_for(t_std, False))


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_steps_and_countdown_are_worded_in_every_language(lang: str) -> None:
    texts = [i18n.tr(f"step_{s}", lang) for s in STEPS]
    assert len(set(texts)) == 5 and all(i18n.has(f"step_{s}", lang) for s in STEPS)
    assert "35" in i18n.tr("countdown", lang, seconds=35)
