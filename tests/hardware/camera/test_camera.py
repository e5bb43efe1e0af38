from __future__ import annotations

import random
import threading
from pathlib import Path

import cv2

from hardware.base import Deadline, DeviceStatus, StatusChange
from hardware.camera.config import CameraConfig, FaceConfig
from hardware.camera.driver import Camera
from hardware.camera.liveness import LivenessChecker
from hardware.camera.source import open_source
from hardware.camera.verify import FaceVerifier
from kiosk.demo import faces


def _camera(source: str, **kw: float) -> Camera:
    cfg = CameraConfig(source=source, **kw)
    cam = Camera(cfg, open_source(cfg))
    cam.start()
    return cam


def test_sim_camera_offline_when_frames_stop() -> None:
    cam = _camera("sim://faces?holder=chen", offline_after_s=0.3)
    try:
        assert cam.latest_frame(3.0) is not None
        assert cam.status is DeviceStatus.ONLINE and cam.details["camera"] == "ok"
        went_offline = threading.Event()

        def listen(ev: StatusChange) -> None:
            if ev.status is DeviceStatus.OFFLINE:
                went_offline.set()

        cam.subscribe(listen)
        assert cam.simulator is not None
        cam.simulator.stall()
        assert went_offline.wait(3.0)
        assert cam.details["camera"] == "no_frames"
        assert not cam.check_health().ok
        cam.simulator.stall(False)
        assert cam.latest_frame(3.0) is not None
        assert cam.status is DeviceStatus.ONLINE
        preview = cam.preview()
        assert preview is not None and preview.frame.shape == (480, 640, 3)
    finally:
        cam.close()
    assert cam.preview() is None


def test_folder_source(tmp_path: Path) -> None:
    for i in range(2):
        cv2.imwrite(str(tmp_path / f"{i}.png"), faces.empty_frame(seed=i))
    cam = _camera(str(tmp_path))
    try:
        first = cam.latest_frame(3.0)
        second = cam.latest_frame(3.0)
        assert first is not None and second is not None and first.shape == (480, 640, 3)
        assert cam.capabilities()["source"] == "folder"
    finally:
        cam.close()


def test_liveness_live_face_passes_and_photo_fails() -> None:
    cfg = FaceConfig(liveness_retries=0)
    checker = LivenessChecker(cfg, FaceVerifier(cfg), rng=random.Random(7), challenge_s=2.0)
    cam = _camera("sim://faces?holder=chen")
    try:
        told: list[str | None] = []

        def on_challenge(c: str | None) -> None:
            told.append(c)
            cam.on_challenge(c)

        live = checker.run(cam.frames(), Deadline(20), on_challenge)
        assert live.passed and live.reason is None and len(live.challenges) == 2
        assert any(c in ("turn_left", "turn_right") for c in live.challenges)
        assert told[-1] is None and set(live.challenges) <= set(told)
        assert cam.simulator is not None
        cam.simulator.present("photo:chen")
        photo = checker.run(cam.frames(), Deadline(20), cam.on_challenge)
        assert not photo.passed and photo.reason == "challenge_failed"
        cam.simulator.present(None)
        nobody = LivenessChecker(cfg, FaceVerifier(cfg), challenge_s=0.8).run(
            cam.frames(), Deadline(5), cam.on_challenge)
        assert not nobody.passed and nobody.reason == "no_face"
    finally:
        cam.close()


def test_verify_through_camera() -> None:
    cam = _camera("sim://faces?holder=chen")
    try:
        result = FaceVerifier(FaceConfig()).verify(
            cam.frames(), faces.reference_jpeg("chen"), Deadline(20))
        assert result.match and result.frames_used == 3
    finally:
        cam.close()
