"""The camera mirror's conversion and worker (screens/mirror.py), off any window: frames become
mirrored, bottom-up RGB pictures cut to the widget's shape; the newest frame wins (nothing
queues); frames are wiped once replaced or when the mirror stops. Real peer: the camera over
its simulator."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from hardware.camera.config import CameraConfig
from hardware.camera.driver import CameraDevice
from hardware.camera.factory import create
from hardware.context import DeviceContext
from screens.mirror import (
    MirrorFeed,
    MirrorStats,
    Shown,
    camera_source,
    mirror_rgb,
    picture_size,
    veil_mask,
)

BLUE_BGR = (255, 0, 0)


def _marked(h: int = 480, w: int = 640) -> np.ndarray:
    """A grey BGR frame, blue in the camera's top-left corner."""
    frame = np.full((h, w, 3), 100, np.uint8)
    frame[:40, :40] = BLUE_BGR
    return frame


def test_the_picture_is_a_mirror_with_kivys_rows() -> None:
    out = mirror_rgb(_marked())
    assert out.shape == (480, 640, 3) and out.flags.c_contiguous
    # the camera's top-left (the citizen's left, seen from the camera) is drawn top-right:
    # a mirror; Kivy's textures start with the bottom row, so the top is the last row
    assert tuple(out[-1, -1]) == (0, 0, 255)  # RGB blue
    assert tuple(out[0, 0]) == (100, 100, 100)


def test_cut_to_the_widgets_shape_and_scaled_down() -> None:
    frame = _marked()
    assert picture_size(frame.shape, (300, 400)) == (300, 400)  # 3:4, smaller: scaled
    assert picture_size(frame.shape, (720, 960)) == (360, 480)  # larger: the centre cut only
    out = mirror_rgb(frame, (300, 400))
    assert out.shape == (400, 300, 3)
    assert tuple(out[-1, -1]) == (100, 100, 100)  # the corner was cut away (centre kept)


def test_the_veil_dims_outside_the_oval_only() -> None:
    mask = veil_mask((300, 400), 0.45)
    out = mirror_rgb(np.full((480, 640, 3), 200, np.uint8), (300, 400), mask)
    assert tuple(out[200, 150]) == (200, 200, 200)  # the oval's centre: untouched
    assert out[2, 2, 0] == round(200 * round(255 * 0.55) / 255)  # a corner: dimmed


@pytest.fixture
def camera() -> Iterator[CameraDevice]:
    ctx = DeviceContext()
    cam = create(CameraConfig(source="sim://faces?holder=chen", fps=30), ctx)
    cam.start(lambda _event: None)
    try:
        yield cam
    finally:
        cam.close()
        ctx.sims.close()


def test_the_newest_frame_wins_and_nothing_queues(camera: CameraDevice) -> None:
    ready = threading.Event()
    feed = MirrorFeed(camera_source(camera), ready.set)
    feed.size = (300, 400)
    feed.start()
    try:
        assert ready.wait(10)  # the first frame converted, the UI told once
        first = feed.take()
        assert first is not None and first.size == (300, 400)
        ready.clear()
        replaced_before = feed.stats.replaced
        deadline = time.monotonic() + 10
        while feed.stats.replaced < replaced_before + 3:  # the UI thread is "busy"
            assert time.monotonic() < deadline, "the camera stopped"
            time.sleep(0.01)  # waiting on the camera's own frames (no event for "three")
        held = feed.take()
        assert held is not None and held.seq > first.seq + 3  # the newest, not the next
        assert feed.take() is None  # one frame at most waits
        assert ready.is_set()  # told again for the frame that waited
    finally:
        feed.stop()
    assert not feed.running


def test_a_frame_not_taken_is_wiped_when_the_mirror_stops(camera: CameraDevice) -> None:
    ready = threading.Event()
    feed = MirrorFeed(camera_source(camera), ready.set)
    feed.start()
    assert ready.wait(10)
    waiting = feed._latest  # the buffer the UI thread would blit
    assert waiting is not None and waiting.pixels.any()
    feed.stop()
    assert not waiting.pixels.any() and feed.take() is None


def test_frame_rate_and_latency_from_the_frames_shown() -> None:
    stats = MirrorStats()
    for i in range(31):  # 20 frames a second shown, of a camera grabbing 30
        t = 100.0 + i / 20
        stats.record(Shown(seq=1 + round(i * 1.5), grabbed_at=t - 0.030, blitted_at=t - 0.010,
                           flipped_at=t))
    got = stats.summary()
    assert got["fps"] == pytest.approx(20.0)
    assert got["camera_fps"] == pytest.approx(30.0)
    assert got["ratio"] == pytest.approx(20 / 30)
    assert got["texture_ms_median"] == pytest.approx(20.0)
    assert got["screen_ms_p95"] == pytest.approx(30.0)


def test_a_camera_with_preview_only_is_polled(camera: CameraDevice) -> None:
    """The Camera role promises ``preview()`` alone: the mirror then looks at it often."""

    class PreviewOnly:
        def preview(self) -> Any:
            return camera.preview()

    source = camera_source(PreviewOnly())
    first = source(-1, 5.0)
    assert first is not None
    newer = source(first.seq, 5.0)
    assert newer is not None and newer.seq > first.seq
    assert source(10**9, 0.05) is None  # nothing newer by the deadline
