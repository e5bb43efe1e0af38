"""Liveness and verification over frames from a camera (the face simulator, driven through
its control socket)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from hardware.base import Deadline
from hardware.camera.driver import CameraDevice
from hardware.sim import faces
from hardware.sim.control import SimClient
from kiosk.face.config import FaceConfig
from kiosk.face.liveness import LivenessChecker
from kiosk.face.verify import FaceVerifier
from tests.kiosk.face.conftest import sim_camera


@pytest.fixture
def camera() -> Iterator[tuple[CameraDevice, SimClient]]:
    with sim_camera("sim://faces?holder=chen") as cam:
        yield cam


def test_liveness_live_face_passes_and_photo_fails(
        camera: tuple[CameraDevice, SimClient]) -> None:
    cfg = FaceConfig(liveness_retries=0)
    checker = LivenessChecker(cfg, FaceVerifier(cfg), rng=random.Random(7), challenge_s=2.0)
    cam, control = camera
    told: list[str | None] = []

    def on_challenge(c: str | None) -> None:
        told.append(c)
        cam.on_challenge(c)

    live = checker.run(cam.frames(), Deadline(20), on_challenge)
    assert live.passed and live.reason is None and len(live.challenges) == 2
    assert any(c in ("turn_left", "turn_right") for c in live.challenges)
    assert told[-1] is None and set(live.challenges) <= set(told)
    control.call("present", who="photo:chen")
    photo = checker.run(cam.frames(), Deadline(20), cam.on_challenge)
    assert not photo.passed and photo.reason == "challenge_failed"
    control.call("present", who=None)
    nobody = LivenessChecker(cfg, FaceVerifier(cfg), challenge_s=0.8).run(
        cam.frames(), Deadline(5), cam.on_challenge)
    assert not nobody.passed and nobody.reason == "no_face"


def test_verify_through_camera(camera: tuple[CameraDevice, SimClient]) -> None:
    cam, _control = camera
    result = FaceVerifier(FaceConfig()).verify(
        cam.frames(), faces.reference_jpeg("chen"), Deadline(20))
    assert result.match and result.frames_used == 3
