"""The blink challenge: the eye models installed and pinned, eye openness on rendered faces,
and the challenge through the camera simulator (a live head blinks; a sheet, tipped or not,
and a screen do not)."""

from __future__ import annotations

import logging
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hardware.base import Deadline
from hardware.camera.driver import CameraDevice
from hardware.sim import faces
from hardware.sim.control import SimClient
from hardware.sim.faces import Pose
from kiosk.face import liveness, liveness_eval, meshmodels
from kiosk.face.config import FaceConfig
from kiosk.face.eyes import EyeModel, EyeState
from kiosk.face.liveness import (
    BLINK_CLOSED,
    BLINK_OPEN,
    BLINK_SHAPE,
    LivenessChecker,
    wrong_move,
)
from kiosk.face.liveness_eval import FixedChallenges
from kiosk.face.verify import FaceVerifier
from tests.kiosk.face.conftest import sim_camera


@pytest.fixture(scope="module")
def eyes() -> EyeModel:
    return EyeModel()


@pytest.fixture(scope="module")
def camera() -> Iterator[tuple[CameraDevice, SimClient]]:
    with sim_camera("sim://faces?holder=chen") as cam:
        yield cam


def _state(eyes: EyeModel, verifier: FaceVerifier, frame: np.ndarray) -> EyeState:
    face = verifier.analyse(frame, bgr=True, encode=False)
    return eyes.measure(frame, face.box, face.landmarks)


def test_the_set_up_installed_the_pinned_models() -> None:
    """scripts/setup.sh fetched them: a kiosk without them has no blink challenge."""
    for name in meshmodels.MODELS:
        assert meshmodels.model_path(name).is_file()
    licence = (meshmodels.models_dir() / "LICENSE").read_text()
    assert licence.split()[:4] == ["Apache", "License", "Version", "2.0,"]


def test_a_changed_model_is_refused(tmp_path: Path) -> None:
    for name in meshmodels.MODELS:
        shutil.copy(meshmodels.model_path(name), tmp_path / name)
    EyeModel(tmp_path)  # the copies load
    data = bytearray((tmp_path / "iris_landmark.tflite").read_bytes())
    data[len(data) // 2] ^= 0x01
    (tmp_path / "iris_landmark.tflite").write_bytes(bytes(data))
    with pytest.raises(meshmodels.ModelMissing, match="hash differs"):
        EyeModel(tmp_path)
    (tmp_path / "face_landmark.tflite").unlink()
    with pytest.raises(meshmodels.ModelMissing, match="missing"):
        EyeModel(tmp_path)


@pytest.mark.parametrize("key", faces.FACE_KEYS)
def test_shut_eyes_read_shut_and_open_eyes_hold_still(key: str, eyes: EyeModel,
                                                      verifier: FaceVerifier) -> None:
    opened = [_state(eyes, verifier, faces.live_frame(key, Pose(dx=2 * np.sin(i),
                                                              yaw=0.03 * np.cos(i)), seed=i))
              for i in range(4)]
    base = float(np.median([e.openness for e in opened]))
    assert min(e.openness for e in opened) >= BLINK_OPEN * base  # the idle sway: no blink
    shut = _state(eyes, verifier, faces.live_frame(key, Pose(eyes=1.0), seed=9))
    assert shut.openness <= BLINK_CLOSED * base, (shut.openness / base)
    assert shut.proportion >= BLINK_SHAPE * float(np.median([e.proportion for e in opened]))


def test_a_tipped_photo_flattens_the_face_not_only_the_eyes(eyes: EyeModel,
                                                            verifier: FaceVerifier) -> None:
    flat = _state(eyes, verifier, faces.attack_frame("astronaut", "tilt", Pose()))
    tipped = _state(eyes, verifier, faces.attack_frame("astronaut", "tilt", Pose(pitch=-45)))
    assert tipped.openness > BLINK_CLOSED * flat.openness
    assert tipped.proportion < BLINK_SHAPE * flat.proportion  # such frames do not count


@pytest.mark.parametrize("who", ["chen", "lfw-1", "lfw-3"])
def test_a_live_head_passes_the_blink(camera: tuple[CameraDevice, SimClient], who: str,
                                      verifier: FaceVerifier, eyes: EyeModel) -> None:
    cam, control = camera
    control.call("present", who=who)
    checker = FixedChallenges(("blink",), FaceConfig(liveness_retries=0), verifier,
                              rng=random.Random(1), challenge_s=3.0, pause_s=(0.1, 0.3),
                              eyes=eyes)
    result = checker.run(cam.frames(), Deadline(30), cam.on_challenge)
    assert result.passed and result.challenges == ("blink",), result
    assert result.cues["blink_min_ratio"] <= BLINK_CLOSED


@pytest.mark.parametrize("attack", ["photo", "print", "tilt", "screen"])
def test_a_sheet_or_a_screen_does_not_blink(camera: tuple[CameraDevice, SimClient], attack: str,
                                            verifier: FaceVerifier, eyes: EyeModel) -> None:
    cam, control = camera
    control.call("present", who=f"{attack}:chen")
    checker = FixedChallenges(("blink",), FaceConfig(liveness_retries=0), verifier,
                              rng=random.Random(1), challenge_s=2.0, pause_s=(0.1, 0.3),
                              eyes=eyes)
    result = checker.run(cam.frames(), Deadline(30), cam.on_challenge)
    assert not result.passed and result.reason in ("challenge_failed", "multiple_faces"), result
    assert result.cues.get("blink_min_ratio", 1.0) > BLINK_CLOSED


def test_without_the_models_the_blink_is_not_drawn(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path, verifier: FaceVerifier,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("KIOSK_FACE_MODELS", str(tmp_path))
    with caplog.at_level(logging.WARNING, "kiosk.face.liveness"):
        checker = LivenessChecker(FaceConfig(), verifier, rng=random.Random(0))
    assert checker.eyes is None and "blink" not in checker.challenges
    assert "no blink challenge" in caplog.text
    assert all("blink" not in checker.draw() for _ in range(60))
    monkeypatch.delenv("KIOSK_FACE_MODELS")
    drawn = LivenessChecker(FaceConfig(), verifier, rng=random.Random(0))
    pairs = [drawn.draw() for _ in range(60)]
    assert any("blink" in p for p in pairs)
    assert all(any(c in ("turn_left", "turn_right") for c in p) for p in pairs)
    off = LivenessChecker(FaceConfig(blink=False), verifier)
    assert off.eyes is None and "blink" not in off.challenges


@pytest.mark.parametrize(("challenge", "yaw", "closer", "wrong"), [
    ("turn_left", -0.15, 1.0, True), ("turn_left", -0.1, 1.0, False),  # small: not wrong
    ("turn_left", 0.3, 1.0, False), ("turn_left", 0.0, 1.35, True),
    ("turn_right", 0.15, 1.0, True), ("turn_right", -0.3, 1.0, False),
    ("come_closer", 0.15, 1.4, True), ("come_closer", -0.15, 1.4, True),
    ("come_closer", 0.05, 1.4, False),
    ("blink", 0.15, 1.0, True), ("blink", -0.15, 1.0, True), ("blink", 0.0, 1.35, True),
    ("blink", 0.05, 1.1, False),
])
def test_a_move_that_was_not_asked_is_wrong(challenge: str, yaw: float, closer: float,
                                            wrong: bool) -> None:
    """Yaw > 0: the nose toward the frame's right, the citizen's own left."""
    assert wrong_move(challenge, (0.02 + yaw, 40.0 * closer), 0.02, 40.0) is wrong


def test_the_rules_on_moves_refuse_a_replayed_video_that_passed_without_them(
        monkeypatch: pytest.MonkeyPatch, verifier: FaceVerifier, eyes: EyeModel) -> None:
    """A video of the citizen doing every challenge in turn, looped, on a screen
    (faces.REPLAY_SCRIPT; virtual time, so the same frames every run). Presentation 12 of the
    demo portrait passed the turn and the approach before the rules on unasked moves, early
    answers and stillness; it is refused now."""
    assert faces.replayed(0.5) == ("turn_left", 0.5)
    assert faces.replayed(1.2)[0] is None and faces.replayed(1.7)[0] == "turn_right"
    cfg = FaceConfig(liveness_retries=0)
    photo = np.ascontiguousarray(faces.portrait("astronaut"))
    now = liveness_eval.present(photo, "replay", 12, cfg, verifier, eyes=eyes)
    assert now is not None and not now.passed and now.reason == "wrong_move", now
    for name, off in (("WRONG_YAW", 99.0), ("WRONG_CLOSER", 99.0), ("REACTION_S", 0.0),
                      ("STILL_YAW", 99.0), ("STILL_SCALE", 99.0)):
        monkeypatch.setattr(liveness, name, off)
    before = liveness_eval.present(photo, "replay", 12, cfg, verifier, eyes=eyes)
    assert before is not None and before.passed, before
