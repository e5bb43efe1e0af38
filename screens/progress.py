"""Where the citizen is in the journey and how long the screen waits (no Kivy here).

The header shows five steps, identify → choose → fill → submit → collect, the current one
highlighted and the finished ones ticked; and, during the last part of a screen's inactivity
timeout, a countdown. The session machine's timeout policy decides the times; this module only
maps them to what the header shows.
"""

from __future__ import annotations

from typing import Any

STEPS = ("identify", "choose", "fill", "submit", "collect")

STEP_OF_STATE = {
    "home": "choose", "guide": "choose",
    "identify": "identify", "face_consent": "identify", "face": "identify",
    "consent": "fill", "certificates": "fill", "form": "fill",
    "review": "submit", "submitting": "submit",
    "result": "collect", "delivery": "collect", "rating": "collect", "goodbye": "collect",
}


# a themed bundle (一件事一次办) runs over home: its own steps are where the citizen is
STEP_OF_BUNDLE = {"overview": "choose", "form": "fill", "review": "submit",
                  "submitting": "submit", "receipt": "collect"}


def step_of(state: str, bundle_step: str = "") -> str:
    """The step a session state belongs to ('' on the attract screen); at home, the open
    bundle's step (``bundle_step``: the bundle flow's step, '' when none is open)."""
    if state == "home" and bundle_step in STEP_OF_BUNDLE:
        return STEP_OF_BUNDLE[bundle_step]
    return STEP_OF_STATE.get(state, "")


def steps_done(state: str, data: Any, bundle_step: str = "") -> list[str]:
    """Steps finished before ``state``. A card may identify first and the matter come after,
    or the other way round, so the first two are read from the session, not the order (a
    bundle past its overview counts as chosen)."""
    current = step_of(state, bundle_step)
    if not current:
        return []
    done = []
    if getattr(data, "identified", False) and current != "identify":
        done.append("identify")
    chosen = getattr(data, "matter", None) is not None or (
        state == "home" and bundle_step in STEP_OF_BUNDLE and bundle_step != "overview")
    if chosen and current != "choose":
        done.append("choose")
    index = STEPS.index(current)
    done += [s for s in STEPS[2:index]]
    if state == "goodbye":
        done = list(STEPS)
    return [s for s in STEPS if s in done]


def countdown_from(timeout: float, warning: float) -> float:
    """Seconds before a timeout at which the header starts counting down: twice the
    warning's lead, never more than the last half of the screen's timeout."""
    return min(timeout / 2.0, 2.0 * warning)


def countdown(seconds_left: float | None, timeout: float | None, warning: float) -> int:
    """Whole seconds to show in the header, or 0 for no countdown."""
    if seconds_left is None or not timeout or seconds_left > countdown_from(timeout, warning):
        return 0
    return max(1, int(seconds_left + 0.999))
