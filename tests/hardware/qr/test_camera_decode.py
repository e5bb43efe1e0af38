"""Camera decoding on generated frames, region of interest, and the worker-thread watcher."""

from __future__ import annotations

import threading

import numpy as np

from hardware.events import CodeScanned
from hardware.qr.camera_decode import CameraQrWatcher, DecodedCode, FrameDecoder
from hardware.qr.testframes import HEIGHT, WIDTH, frames, make_frame

from .conftest import Collector


def test_decodes_generated_frames_with_and_without_zxing() -> None:
    test_frames = list(frames(seed=7, count=12))
    kiosk = FrameDecoder()
    hits = sum(f.text in [c.data for c in kiosk.decode(f.frame)] for f in test_frames)
    assert hits >= 11
    assert kiosk.stats.get("zxing_half", 0) >= 6  # the cheap pass finds most codes
    zbar_only = FrameDecoder(primary=None)
    hits_zbar = sum(f.text in [c.data for c in zbar_only.decode(f.frame)] for f in test_frames)
    assert hits_zbar >= 9
    assert not {"zxing", "zxing_half"} & set(zbar_only.stats)


def test_frames_are_deterministic_and_sized() -> None:
    a, b = make_frame(3, 5), make_frame(3, 5)
    assert a.frame.shape == (HEIGHT, WIDTH, 3) and np.array_equal(a.frame, b.frame)
    assert -30 <= a.angle <= 30 and a.text == b.text


def test_rect_is_in_frame_pixels_and_roi_limits_search() -> None:
    tf = next(f for f in frames(seed=11, count=10) if f.blur == 0 and f.noise == 0)
    codes = FrameDecoder().decode(tf.frame)
    assert [c.data for c in codes] == [tf.text]
    x, y, w, h = codes[0].rect
    assert 0 <= x < WIDTH and 0 <= y < HEIGHT and w > 50 and h > 50
    roi = (max(0, x - 40), max(0, y - 40), w + 80, h + 80)
    assert [c.data for c in FrameDecoder().decode(tf.frame, roi)] == [tf.text]
    in_roi = FrameDecoder().decode(tf.frame, roi)[0].rect
    assert abs(in_roi[0] - x) <= 4 and abs(in_roi[1] - y) <= 4  # offset back to the frame
    empty_corner = (0, 0, 40, 40) if x > 60 and y > 60 else (WIDTH - 40, HEIGHT - 40, 40, 40)
    assert FrameDecoder().decode(tf.frame, empty_corner) == []


def test_blank_and_grayscale_frames() -> None:
    assert FrameDecoder().decode(np.zeros((HEIGHT, WIDTH, 3), np.uint8)) == []
    tf = make_frame(7, 2)
    gray = tf.frame[:, :, 1].copy()
    assert FrameDecoder().decode(gray, (0, 0, 0, 0)) == []


def test_watcher_emits_once_per_code_off_the_calling_thread(collector: Collector) -> None:
    tf = make_frame(7, 0)
    served = threading.Event()
    count = [0]
    threads: set[str] = set()

    def source() -> np.ndarray | None:
        threads.add(threading.current_thread().name)
        count[0] += 1
        if count[0] > 3:
            served.set()
            return None
        return tf.frame

    def emit(event: object) -> None:
        threads.add(threading.current_thread().name)
        collector(event)

    w = CameraQrWatcher(source, dedup_window_s=30, interval_s=0.01)
    w.start(emit)
    try:
        assert served.wait(20)
        evs = collector.wait_count(1)
    finally:
        w.close()
    assert evs == [CodeScanned(tf.text, "camera")]  # three frames, one event
    assert w.frames == 3 and threads == {"qr-camera"}


def test_a_frame_the_decoder_fails_on_does_not_end_the_watcher(collector: Collector) -> None:
    """The watcher runs as long as the kiosk: one frame that makes the decoder raise (a
    degenerate fit, a library error) is logged and the next frame is read."""
    tf = make_frame(7, 0)
    frames = [np.zeros((2, 2, 3), np.uint8), tf.frame]

    class Fussy(FrameDecoder):
        def decode(self, frame_bgr: np.ndarray, roi: object = None) -> list[DecodedCode]:
            if frame_bgr.shape[0] == 2:
                raise ValueError("a frame no decoder expected")
            return super().decode(frame_bgr)

    w = CameraQrWatcher(lambda: frames.pop(0) if frames else None, decoder=Fussy(),
                        interval_s=0.01)
    w.start(collector)
    try:
        evs = collector.wait_count(1, 20)
    finally:
        w.close()
    assert evs == [CodeScanned(tf.text, "camera")] and w.frames == 2


def test_hard_frames_cover_the_issue_16_conditions() -> None:
    hard = list(frames(seed=99, count=60, hard=True))
    assert all(f.frame.shape == (HEIGHT, WIDTH, 3) for f in hard)
    assert any(f.inverted for f in hard) and any(f.moire for f in hard)
    assert any(f.glare for f in hard) and max(f.noise for f in hard) == 10.0
    assert min(f.contrast for f in hard) <= 0.22  # about 30 grey levels
    assert np.array_equal(make_frame(99, 3, hard=True).frame, hard[3].frame)


def test_retry_ladder_reads_codes_the_plain_passes_only_locate() -> None:
    """On the hard set the kiosk decoder reads more than plain zxing-cpp, and the extra
    codes come from the retry ladder on a located code."""
    import zxingcpp

    hard = list(frames(seed=99, count=80, hard=True))
    kiosk = FrameDecoder()
    ours = sum(f.text in [c.data for c in kiosk.decode(f.frame)] for f in hard)
    plain = sum(f.text in [r.text for r in zxingcpp.read_barcodes(
        f.frame, formats=zxingcpp.BarcodeFormat.QRCode)] for f in hard)
    assert ours > plain
    assert any(k.startswith("retry_") for k in kiosk.stats), kiosk.stats
