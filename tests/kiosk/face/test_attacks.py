"""Presentation attacks acted out by the camera simulator (through its control socket) and
the relief cue on rendered sequences: a sheet of paper or a screen must not pass."""

from __future__ import annotations

import random
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from hardware.base import Deadline
from hardware.camera.driver import CameraDevice
from hardware.sim import faces, scene3d
from hardware.sim.control import SimClient
from kiosk.face.check import FaceCheck
from kiosk.face.config import FaceConfig
from kiosk.face.liveness import LivenessChecker, Relief
from kiosk.face.verify import FaceVerifier
from tests.kiosk.face.conftest import sim_camera


@pytest.fixture(scope="module")
def camera() -> Iterator[tuple[CameraDevice, SimClient]]:
    with sim_camera("sim://faces?holder=chen") as cam:
        yield cam


@pytest.mark.parametrize("attack", ["print", "fold", "curve", "screen"])
def test_attack_modes_are_refused(camera: tuple[CameraDevice, SimClient], attack: str,
                                  verifier: FaceVerifier) -> None:
    cam, control = camera
    assert control.call("present", who=f"{attack}:chen")["presented"] == f"{attack}:astronaut"
    checker = LivenessChecker(FaceConfig(liveness_retries=0), verifier,
                              rng=random.Random(3), challenge_s=2.0, pause_s=(0.1, 0.3))
    result = checker.run(cam.frames(), Deadline(30), cam.on_challenge)
    assert not result.passed
    assert result.reason in ("challenge_failed", "not_3d")


def test_live_head_passes_and_the_face_check_matches(
        camera: tuple[CameraDevice, SimClient], verifier: FaceVerifier) -> None:
    cam, control = camera
    control.call("present", who="chen")
    cfg = FaceConfig(liveness_retries=1)
    checker = LivenessChecker(cfg, verifier, rng=random.Random(5), challenge_s=3.0,
                              pause_s=(0.1, 0.3))
    told: list[str | None] = []

    def on_challenge(c: str | None) -> None:
        told.append(c)
        cam.on_challenge(c)

    result = FaceCheck(cfg, verifier, checker).run(
        cam.frames(), faces.reference_jpeg("chen"), Deadline(30), on_challenge)
    assert result.match and result.error is None, result
    assert any(c in ("turn_left", "turn_right") for c in told) and told[-1] is None
    assert result.verify is not None and result.verify.frames_used == cfg.frames
    assert result.timings["liveness_frames"] > 0


def test_face_check_refuses_unusable_reference_before_any_challenge(
        camera: tuple[CameraDevice, SimClient], verifier: FaceVerifier) -> None:
    cam, _control = camera
    told: list[str | None] = []
    result = FaceCheck(FaceConfig(), verifier).run(cam.frames(), b"\xff\xd8 not a photo",
                                                   Deadline(10), told.append)
    assert not result.match and result.error == "reference_unusable" and not told


def _sequence(surface: str, yaw: float, **kw: float) -> list[np.ndarray]:
    eye_a, eye_b, nose = faces.landmarks("astronaut")
    sc = scene3d.Scene(np.asarray(faces.portrait("astronaut")), (eye_a, eye_b), nose, surface,
                       **kw)
    rng = np.random.default_rng(1)
    out = []
    for k in range(9):
        rgb = sc.render(scene3d.Pose3(yaw=yaw * k / 8), scene3d.room())
        rgb += rng.normal(0, 3, rgb.shape).astype(np.float32)
        out.append(cv2.cvtColor(np.clip(rgb, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
    return out


@pytest.mark.parametrize("surface, kw, is_3d", [
    ("head", {}, True),
    ("flat", {}, False),
    ("fold", {"fold_deg": 20.0}, False),
    ("fold", {"fold_deg": 45.0}, False),
    ("curve", {}, False),
    ("screen", {}, False),
])
@pytest.mark.parametrize("yaw", [-25.0, 25.0])
def test_relief_tells_a_head_from_paper(verifier: FaceVerifier, surface: str,
                                        kw: dict[str, float], is_3d: bool, yaw: float) -> None:
    seq = _sequence(surface, yaw, **kw)
    face = verifier.analyse(seq[0], bgr=True, encode=False)
    relief = Relief(cv2.cvtColor(seq[0], cv2.COLOR_BGR2GRAY), face)
    for frame in seq[1:]:
        relief.update(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    score = relief.score()
    assert score.tracks >= 25
    assert score.is_3d is is_3d, score
