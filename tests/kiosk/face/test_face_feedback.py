"""Issue 17: the face check tells the face screen what the quality gates found on every frame,
the liveness challenge and its progress, as typed :class:`FaceFeedback` events (no personal
data), through the liveness challenges as well as the decision."""

from __future__ import annotations

import random

from hardware.base import Deadline
from hardware.camera.driver import CameraDevice
from hardware.sim import faces
from hardware.sim.control import SimClient
from kiosk.face.check import FaceCheck, FaceFeedback
from kiosk.face.config import FaceConfig
from kiosk.face.liveness import CHALLENGES, LivenessChecker
from kiosk.face.verify import GATE_CODES, FaceVerifier


def test_gates_challenges_and_progress_reach_the_screen(
        camera: tuple[CameraDevice, SimClient]) -> None:
    cam, control = camera
    cfg = FaceConfig(liveness_retries=1)
    verifier = FaceVerifier(cfg)
    check = FaceCheck(cfg, verifier, LivenessChecker(cfg, verifier, rng=random.Random(3)))
    seen: list[FaceFeedback] = []

    def on_feedback(fb: FaceFeedback) -> None:
        seen.append(fb)
        if fb.gate == "no_face" and len(seen) == 1:
            control.call("present", who="chen")  # the citizen steps in front of the camera

    result = check.run(cam.frames(), faces.reference_jpeg("chen"), Deadline(40),
                       cam.on_challenge, on_feedback=on_feedback)
    assert result.match, result
    assert seen[0] == FaceFeedback(gate="no_face", challenge=None, step=0, steps=3)
    assert {fb.gate for fb in seen} <= {"ok", *GATE_CODES}
    assert any(fb.gate == "ok" for fb in seen)
    challenges = [fb.challenge for fb in seen if fb.challenge is not None]
    assert challenges and set(challenges) <= set(CHALLENGES)
    assert all(fb.steps == 3 and 0 <= fb.step <= 3 for fb in seen)
    assert seen[-1].step == 3 and seen[-1].challenge is None  # decided: the bar is full
    # only changes are told (the screen is not flooded with one event per frame)
    assert all(a != b for a, b in zip(seen, seen[1:], strict=False))


def test_without_liveness_the_decision_alone_is_the_progress(
        camera: tuple[CameraDevice, SimClient]) -> None:
    cam, control = camera
    control.call("present", who="chen")
    cfg = FaceConfig(liveness=False)
    seen: list[FaceFeedback] = []
    result = FaceCheck(cfg).run(cam.frames(), faces.reference_jpeg("chen"), Deadline(30),
                                on_feedback=seen.append)
    assert result.match
    assert {fb.steps for fb in seen} == {1} and seen[-1].step == 1
    assert all(fb.challenge is None for fb in seen)
