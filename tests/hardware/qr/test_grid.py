"""The grid reader (issue 16): function patterns that match every symbol of a version, corners
refined onto them, a version chosen by them, modules classified and drawn clean; on hard
frames of the development seeds (never the benchmark's 2024) it reads codes that no rung of
the ladder reads, and it costs nothing where zxing-cpp saw no code."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import segno
import zxingcpp

from hardware.qr import finders, grid, ladder
from hardware.qr.camera_decode import FrameDecoder
from hardware.qr.testframes import make_background, make_frame

_QR = zxingcpp.BarcodeFormat.QRCode
PX = 6  # pixels a module in the drawn test symbols
GRID_ONLY = [(7, 35), (11, 38), (13, 68), (21, 12)]  # hard frames only the grid reads
# ... and of those, frames it reads from our own finders alone (no ArUco corners): light on
# dark, a glare spot, screen moire, plain low contrast
FINDERS_ONLY = [(13, 114), (7, 88), (7, 146), (7, 175), (13, 133)]


class _Blind:
    """A detector that finds nothing (OpenCV's ArUco detector, out of the way)."""

    def detect(self, _image: np.ndarray) -> tuple[bool, None]:
        return False, None


def _drawn(text: str, *, inverted: bool = False) -> tuple[np.ndarray, np.ndarray, int]:
    """A clean symbol drawn at ``PX`` px a module with a quiet zone, in float32; its
    corners (without the quiet zone) and version."""
    qr = segno.make(text, error="M", micro=False)
    rows = np.array([list(r) for r in qr.matrix], np.uint8) > 0
    img = np.where(rows ^ inverted, 40.0, 200.0).astype(np.float32)
    img = cv2.resize(img, None, fx=PX, fy=PX, interpolation=cv2.INTER_NEAREST)
    img = cv2.copyMakeBorder(img, 4 * PX, 4 * PX, 4 * PX, 4 * PX, cv2.BORDER_CONSTANT,
                             value=40.0 if inverted else 200.0)
    n = rows.shape[0]
    lo, hi = 4 * PX, 4 * PX + n * PX
    corners = np.array([[lo, lo], [hi, lo], [hi, hi], [lo, hi]], np.float32)
    return img, corners, int(qr.version)


def _pure(symbol: np.ndarray) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(symbol, formats=_QR, is_pure=True)
            if r.valid]


@pytest.mark.parametrize("text", ["APPT-2026-000123", "GZDOC1.ref-platform.receipt." + "x" * 90,
                                  "https://www.gdzwfw.gov.cn/verify?d=" + "7" * 200])
def test_function_patterns_match_any_content_of_their_version(text: str) -> None:
    img, corners, version = _drawn(text)
    right = grid.pattern_score(img, corners, version)
    others = [v for v in grid.versions(corners) if v != version]
    assert right > 0.95 and others  # nearby versions share most of the finders: a margin
    assert max(abs(grid.pattern_score(img, corners, v)) for v in others) < right - 0.3
    dark, _, _ = _drawn(text, inverted=True)  # light on dark: the score says so by its sign
    assert grid.pattern_score(dark, corners, version) < -0.95


def test_corners_a_third_of_a_module_off_are_refined_and_the_code_reads() -> None:
    text = "GZDOC1.ref-platform.receipt.APP-00012345." + "x" * 40
    img, corners, version = _drawn(text)
    img = cv2.GaussianBlur(img, (0, 0), 1.5)
    rng = np.random.default_rng(3)
    off = corners + rng.choice([-1.0, 1.0], (4, 2)).astype(np.float32) * PX / 3
    fitted = grid.fit(img, off)
    assert fitted and fitted[0].version == version and not fitted[0].inverted
    assert float(np.abs(fitted[0].corners - corners).max()) < PX / 4
    assert float(np.abs(off - corners).max()) >= PX / 3
    read = [r.text for s in grid.symbols(img, fitted[0])
            for r in zxingcpp.read_barcodes(s, formats=_QR, is_pure=True)]
    assert text in read


def test_a_wrong_module_in_a_finder_pattern_is_drawn_as_it_must_be() -> None:
    """zxing-cpp's pure reader gives up on a finder with one wrong module; the grid knows
    what the function patterns are and draws them so."""
    text = "APPT-2026-004711"
    img, corners, version = _drawn(text)
    img[4 * PX + 3 * PX:4 * PX + 4 * PX, 4 * PX + 3 * PX:4 * PX + 4 * PX] = 200.0  # a hole
    fitted = grid.Grid(version, corners, 1.0, False)
    read = [r.text for s in grid.symbols(img, fitted)
            for r in zxingcpp.read_barcodes(s, formats=_QR, is_pure=True)]
    assert read and all(t == text for t in read)


@pytest.mark.parametrize("where", GRID_ONLY)
def test_the_grid_reads_hard_frames_no_rung_reads(where: tuple[int, int]) -> None:
    tf = make_frame(*where, hard=True)
    codes = FrameDecoder().decode(tf.frame)
    assert [(c.data, c.stage) for c in codes] == [(tf.text, "grid")]
    x, y, w, h = codes[0].rect  # in frame pixels, around the code
    cx, cy = np.mean(tf.corners, axis=0)
    assert x <= cx <= x + w and y <= cy <= y + h
    without = FrameDecoder()
    without.grid_tries = 0
    assert without.decode(tf.frame) == []


@pytest.mark.parametrize("where", FINDERS_ONLY)
def test_our_finders_alone_locate_codes_nothing_else_reads(where: tuple[int, int]) -> None:
    tf = make_frame(*where, hard=True)
    decoder = FrameDecoder()
    decoder._aruco = _Blind()
    assert [(c.data, c.stage) for c in decoder.decode(tf.frame)] == [(tf.text, "grid")]
    without = FrameDecoder()
    without.grid_tries = 0
    assert without.decode(tf.frame) == []


class _LocatedOnly:
    """OpenCV's ArUco detector, blind in every region but those zxing-cpp located (where it
    looked before session 7)."""

    def __init__(self, located: list[tuple[int, ...]]) -> None:
        self.inner = cv2.QRCodeDetectorAruco()
        self.shapes = {(h, w) for h, w in located}
        self.calls = 0

    def detect(self, image: np.ndarray) -> tuple[bool, object]:
        self.calls += 1
        if image.shape[:2] not in self.shapes:
            return False, None
        return self.inner.detect(image)


@pytest.mark.parametrize("where", [(7, 99), (11, 140), (13, 38)])
def test_the_detector_also_looks_in_the_texture_region_beside_a_located_code(
        where: tuple[int, int]) -> None:
    """zxing-cpp located part of the code; the texture region around it holds all of it,
    and there OpenCV's detector finds the corners the grid reads from."""
    tf = make_frame(*where, hard=True)
    decoder = FrameDecoder()
    assert [(c.data, c.stage) for c in decoder.decode(tf.frame)] == [(tf.text, "grid")]
    located: list[tuple[int, ...]] = []
    spy = FrameDecoder()
    original = spy._grid

    def remember(views: list, ox: int, oy: int) -> list:
        located.extend(r.view.crop.shape[:2] for r in views if r.located)
        return original(views, ox, oy)

    spy._grid = remember  # type: ignore[method-assign]
    spy._aruco = blind = _LocatedOnly(located)
    assert spy.decode(tf.frame) == [] and blind.calls > 0 and located


def test_no_detection_runs_where_zxing_saw_no_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames without a code (the camera's idle load) cost what they cost before."""
    searched: list[int] = []
    search = finders.finders

    def counted(img: np.ndarray, **kw: float) -> tuple[list[finders.Finder], ...]:
        searched.append(img.size)
        return search(img, **kw)

    monkeypatch.setattr(finders, "finders", counted)
    decoder = FrameDecoder()
    for i in range(6):
        assert decoder.decode(make_background(5, i)) == []
    assert searched == []
    assert decoder._aruco is None  # the detector was never even made
    assert "grid" not in decoder.stats
    tf = make_frame(*GRID_ONLY[0], hard=True)
    gray = cv2.cvtColor(tf.frame, cv2.COLOR_BGR2GRAY)
    assert ladder.find_candidates(gray)  # the region is there, and zxing-cpp located a code
    assert decoder.decode(tf.frame)[0].stage == "grid" and decoder._aruco is not None
    assert searched  # where zxing-cpp located a code, the finders are searched


def test_a_blurred_code_whose_isolated_modules_spill_reads_deblurred() -> None:
    """3 px modules, blur sigma 1.7 px, 30 grey levels, sensor noise: a lone module takes so
    much of its neighbours' grey that every comparison with the neighbourhood gets dozens of
    modules wrong. Modelling the spill (fitted on the function patterns, then solved with
    decision feedback) gets them right."""
    text, px, sigma = "GZID1.k7Qm2xPz9.ref", 3.0, 1.7
    qr = segno.make(text, error="M", micro=False)
    dark = np.array([[bool(v) for v in row] for row in qr.matrix])
    n, side = dark.shape[0], int(round((dark.shape[0] + 8) * px))
    fine = np.full(((n + 8) * 16, (n + 8) * 16), 150.0, np.float32)
    fine[64:64 + n * 16, 64:64 + n * 16] = cv2.resize(
        np.where(dark, 120.0, 150.0).astype(np.float32), (n * 16, n * 16),
        interpolation=cv2.INTER_NEAREST)
    img = cv2.GaussianBlur(cv2.resize(fine, (side, side), interpolation=cv2.INTER_AREA),
                           (0, 0), sigma)
    img += np.random.default_rng(3).normal(0, 1.5, img.shape).astype(np.float32)
    lo, hi = 4 * side / (n + 8), (4 + n) * side / (n + 8)
    fitted = grid.Grid(int(qr.version), np.array([[lo, lo], [hi, lo], [hi, hi], [lo, hi]],
                                                 np.float32), 1.0, False)
    *windows, deblurred = grid.margins(img, fitted)
    assert len(windows) == len(grid.WINDOWS)
    for margin in windows:
        assert int(((margin > 0) != dark).sum()) > 20
        assert text not in _pure(grid.symbol(margin, fitted.version))
    assert int(((deblurred > 0) != dark).sum()) <= 3
    assert _pure(grid.symbol(deblurred, fitted.version)) == [text]
