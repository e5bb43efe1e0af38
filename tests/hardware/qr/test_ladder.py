"""The retry ladder (issue 16) on frames of the hard development set (never the benchmark's
seed 2024): each rung reads a frame that no other rung reads, the candidate finder and the
moire filter do their part, and the budget bounds the work on frames without a code."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import zxingcpp

from hardware.qr import ladder
from hardware.qr.camera_decode import FrameDecoder
from hardware.qr.testframes import TestFrame, make_background, make_frame

_QR = zxingcpp.BarcodeFormat.QRCode

# (seed, index) of a hard frame that the plain passes miss and only this rung reads
ALONE = {
    "retry_normalised": (7, 17),
    "retry_binarised": (7, 121),
    "retry_normalised_fine": (7, 74),
    "retry_binarised_fine": (7, 103),
}


def _gray(tf: TestFrame) -> np.ndarray:
    return np.ascontiguousarray(cv2.cvtColor(tf.frame, cv2.COLOR_BGR2GRAY))


def _plain_reads(gray: np.ndarray, text: str) -> bool:
    half = cv2.resize(gray, (gray.shape[1] // 2, gray.shape[0] // 2),
                      interpolation=cv2.INTER_AREA)
    return any(r.text == text for img in (half, gray)
               for r in zxingcpp.read_barcodes(img, formats=_QR))


def _rung_reads(rung: ladder.Rung, gray: np.ndarray, text: str) -> bool:
    """Whether ``rung`` with zxing-cpp reads ``text`` in one of the ladder's regions."""
    for box in ladder.find_candidates(gray, limit=3):
        view, _, _ = ladder.crop_view(gray, box)
        img = rung.make(view)
        binarizer = getattr(zxingcpp.Binarizer, rung.binarizer)
        if any(r.text == text for r in zxingcpp.read_barcodes(img, formats=_QR,
                                                              binarizer=binarizer)):
            return True
    return False


@pytest.mark.parametrize("name", list(ALONE))
def test_each_rung_reads_a_frame_no_other_rung_reads(name: str) -> None:
    tf = make_frame(*ALONE[name], hard=True)
    gray = _gray(tf)
    assert not _plain_reads(gray, tf.text)
    decoder = FrameDecoder()
    codes = decoder.decode(tf.frame)
    assert [(c.data, c.stage) for c in codes] == [(tf.text, name)]
    others = [r.name for r in ladder.RUNGS if r.name != name and _rung_reads(r, gray, tf.text)]
    assert others == []
    x, y, w, h = codes[0].rect  # the rectangle is in frame pixels, around the code
    cx, cy = np.mean(tf.corners, axis=0)
    assert x <= cx <= x + w and y <= cy <= y + h


def test_pyzbar_reads_where_every_zxing_rung_fails() -> None:
    tf = make_frame(13, 110, hard=True)
    gray = _gray(tf)
    assert not _plain_reads(gray, tf.text)
    assert not any(_rung_reads(r, gray, tf.text) for r in ladder.RUNGS)
    codes = FrameDecoder().decode(tf.frame)
    assert [(c.data, c.stage) for c in codes] == [(tf.text, "retry_normalised_zbar")]


def test_candidates_find_a_code_zxing_does_not_even_locate() -> None:
    tf = make_frame(*ALONE["retry_normalised"], hard=True)
    gray = _gray(tf)
    located = [r for r in zxingcpp.read_barcodes(gray, formats=_QR, return_errors=True)]
    assert located == []
    boxes = ladder.find_candidates(gray)
    cx, cy = np.mean(tf.corners, axis=0)
    assert any(x <= cx <= x + w and y <= cy <= y + h for x, y, w, h in boxes[:1])


def test_descreen_removes_screen_moire_and_leaves_plain_codes_alone() -> None:
    tf = make_frame(*ALONE["retry_normalised"], hard=True)
    assert tf.moire
    gray = _gray(tf)
    box = ladder.find_candidates(gray)[0]
    view, _, _ = ladder.crop_view(gray, box)
    assert view.descreened is not None
    rung = ladder.RUNGS[0]

    def reads(img: np.ndarray) -> bool:
        return any(r.text == tf.text for r in zxingcpp.read_barcodes(img, formats=_QR))

    raw = view.up(ladder.local_normalise(cv2.GaussianBlur(view.crop, (0, 0), 0.8), 25))
    assert reads(rung.make(view)) and not reads(raw)  # the fringes were what stood in the way
    plain = next(f for i in range(40) if not (f := make_frame(7, i, hard=True)).moire
                 and f.contrast == 1.0)
    pbox = ladder.find_candidates(_gray(plain))[0]
    assert ladder.crop_view(_gray(plain), pbox)[0].descreened is None


def test_the_budget_bounds_the_ladder() -> None:
    tf = make_frame(*ALONE["retry_binarised_fine"], hard=True)  # the last rung reads it
    assert FrameDecoder(ladder_budget=0).decode(tf.frame) == []
    tight = FrameDecoder(ladder_budget=0.05)
    tight.grid_tries = 0  # the grid reader after the ladder has its own bound (test_grid)
    assert tight.decode(tf.frame) == [] and tight.stats == {"none": 1}
    assert [c.data for c in FrameDecoder().decode(tf.frame)] == [tf.text]


def test_frames_without_a_code_read_nothing() -> None:
    decoder = FrameDecoder()
    for i in range(8):
        assert decoder.decode(make_background(5, i)) == []
    assert decoder.stats == {"none": 8}
    a, b = make_background(5, 3), make_background(5, 3)
    assert a.shape == (720, 1280, 3) and np.array_equal(a, b)


def test_hard_frames_know_where_their_code_is() -> None:
    tf = make_frame(7, 0, hard=True)
    assert len(tf.corners) == 4 and 3.0 <= tf.module_px <= 7.5
    xs = [x for x, _ in tf.corners]
    assert max(xs) - min(xs) >= tf.side_px * 0.5
