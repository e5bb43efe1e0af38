"""Issue 17: a paced frame source (the camera simulator, a video file, an image folder) keeps
its configured frame rate while producing a frame takes part of the period (the simulator
renders a 3D head): the mirror's physical limit is the camera's rate, not less."""

from __future__ import annotations

import time

import numpy as np

from hardware.camera.config import CameraConfig
from hardware.camera.source import SimSource

FPS = 10
RENDER_S = 0.06  # 60 % of the period spent rendering each frame


def test_rendering_time_does_not_slow_the_frame_rate() -> None:
    frame = np.zeros((480, 640, 3), np.uint8)

    def render() -> np.ndarray:
        time.sleep(RENDER_S)  # the simulated render's own cost, not synchronisation
        return frame

    source = SimSource(CameraConfig(fps=FPS), render)
    try:
        assert source.read() is not None
        t0 = time.monotonic()
        n = 15
        for _ in range(n):
            assert source.read() is not None
        rate = n / (time.monotonic() - t0)
    finally:
        source.close()
    # sleeping a whole period after each render gave FPS / (1 + 0.6) = 6.25 frames a second
    assert rate >= 0.85 * FPS, rate


def test_a_source_that_fell_behind_does_not_burst() -> None:
    frame = np.zeros((480, 640, 3), np.uint8)
    slow = [0.35]  # one frame takes 3.5 periods (a stall)

    def render() -> np.ndarray:
        time.sleep(slow.pop() if slow else 0.0)
        return frame

    source = SimSource(CameraConfig(fps=FPS), render)
    try:
        source.read()  # the stall
        t0 = time.monotonic()
        source.read()
        source.read()
        gap = time.monotonic() - t0
    finally:
        source.close()
    assert gap >= 0.9 / FPS  # the late frame at once, then paced again: no catch-up burst
