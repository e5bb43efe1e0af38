"""The face check in its own process (kiosk/face/worker.py): the same check as on a thread,
with the camera simulator acting out the challenges it is told of; a session that ends
cancels it; a face process that dies ends the check under way with ``unavailable`` (the
citizen gets the path without face) and a new one serves the next citizen. Real peers: the
child process and the camera simulator."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pytest

from hardware.base import Deadline
from hardware.camera.driver import CameraDevice
from hardware.sim import faces
from hardware.sim.control import SimClient
from kiosk.face.check import FaceFeedback
from kiosk.face.config import FaceConfig
from kiosk.face.worker import FaceWorker


@pytest.fixture(scope="module")
def worker() -> Iterator[FaceWorker]:
    w = FaceWorker(FaceConfig(liveness_retries=1)).start()
    try:
        yield w
    finally:
        w.close()


def test_a_check_in_the_face_process_matches_and_tells_the_screen(
        camera: tuple[CameraDevice, SimClient], worker: FaceWorker) -> None:
    cam, control = camera
    control.call("present", who="chen")
    challenges: list[str | None] = []
    seen: list[FaceFeedback] = []
    progress: list[str] = []

    def on_challenge(c: str | None) -> None:
        challenges.append(c)
        cam.on_challenge(c)  # the simulated citizen acts it out

    result = worker.run(cam.frames(), faces.reference_jpeg("chen"), Deadline(60),
                        on_challenge, progress.append, seen.append)
    assert result.match, result
    assert worker.pid is not None and worker.pid != os.getpid()
    assert [c for c in challenges if c] and challenges[-1] is None
    assert seen[-1] == FaceFeedback(gate="ok", challenge=None, step=3, steps=3)
    assert result.timings["challenge_fps"] > 0


def test_someone_else_is_refused_in_the_face_process(
        camera: tuple[CameraDevice, SimClient]) -> None:
    cam, control = camera
    control.call("present", who="chen")
    plain = FaceWorker(FaceConfig(liveness=False))
    try:
        result = plain.run(cam.frames(), faces.reference_jpeg("huang"), Deadline(60))
    finally:
        plain.close()
    assert not result.match and result.error == "mismatch"


def test_an_ended_session_cancels_the_check_and_the_process_serves_the_next(
        camera: tuple[CameraDevice, SimClient], worker: FaceWorker) -> None:
    cam, control = camera
    ended = threading.Event()

    def on_feedback(fb: FaceFeedback) -> None:
        ended.set()  # nobody in front: the citizen leaves at the first words on screen

    pid = worker.pid
    result = worker.run(cam.frames(), faces.reference_jpeg("chen"), Deadline(60, ended),
                        None, None, on_feedback)
    assert (result.match, result.error) == (False, "canceled")
    assert worker.pid == pid  # the same process, ready for the next citizen
    control.call("present", who="chen")
    again = worker.run(cam.frames(), faces.reference_jpeg("chen"), Deadline(60),
                       cam.on_challenge)
    assert again.match and worker.pid == pid


def test_a_face_process_that_dies_ends_the_check_and_is_started_again(
        camera: tuple[CameraDevice, SimClient]) -> None:
    cam, control = camera
    w = FaceWorker(FaceConfig(liveness=False))
    try:
        w.start()
        first = w.pid
        assert first is not None

        def on_progress(_step: str) -> None:
            os.kill(first, signal.SIGKILL)  # killed mid-check (out of memory, a crash)

        result = w.run(cam.frames(), faces.reference_jpeg("chen"), Deadline(60), None,
                       on_progress)
        assert (result.match, result.error) == (False, "unavailable")
        control.call("present", who="chen")
        again = w.run(cam.frames(), faces.reference_jpeg("chen"), Deadline(60))
        assert again.match
        assert w.starts == 2 and w.pid not in (None, first)
    finally:
        w.close()
    assert w.pid is None
