"""Erasure decoding of a sampled grid (issue 16): the placement and format are segno's own,
the least certain codewords erased correct what errors alone cannot, and damage past what
the spare check symbols catch gives no code, never a wrong one."""

from __future__ import annotations

import numpy as np
import pytest
import segno
import zxingcpp

from hardware.qr import erasure, grid
from hardware.qr.camera_decode import FrameDecoder
from hardware.qr.testframes import make_frame

CASES = [(2, "M", "APPT-2026-000123"), (5, "Q", "GZID1." + "k" * 40),
         (7, "H", "GZDOC1.ref-platform.receipt.x"), (10, "L", "https://gdzwfw.gov.cn/" + "7" * 150)]
ERASURE_ONLY = [(13, 172), (21, 157)]  # hard tune frames the grid reads only with erasures


def _code(version: int, level: str, text: str, mask: int | None = None
          ) -> tuple[np.ndarray, int]:
    qr = segno.make(text, version=version, error=level, boost_error=False, micro=False,
                    mask=mask)
    return np.array([[bool(v) for v in row] for row in qr.matrix]), int(qr.mask)


def _read(dark: np.ndarray | None) -> list[str]:
    if dark is None:
        return []
    return [r.text for r in zxingcpp.read_barcodes(grid.render(dark), is_pure=True)
            if r.valid]


@pytest.mark.parametrize(("version", "level", "text"), CASES)
def test_the_layout_and_format_are_segnos_own(version: int, level: str, text: str) -> None:
    for mask in (0, 3, 6):
        dark, used = _code(version, level, text, mask)
        margin = np.where(dark, 1.0, -1.0).astype(np.float32)
        assert erasure.best_format(margin, version) == (level, used)
        drawn = erasure.clean_symbol(margin, version)
        assert drawn is not None and np.array_equal(drawn, dark)  # every module, exactly


@pytest.mark.parametrize(("version", "level", "text"), CASES)
def test_doubtful_codewords_erased_read_what_errors_alone_cannot(
        version: int, level: str, text: str) -> None:
    """A band of modules washed out (a glare spot): flipped, and barely on the wrong side.
    Widened row by row until zxing-cpp cannot correct it; erased, it is corrected."""
    dark, _mask = _code(version, level, text)
    rng = np.random.default_rng(version)
    clean = np.where(dark, 1.0, -1.0).astype(np.float32) * rng.uniform(0.5, 1.0, dark.shape)
    n = dark.shape[0]
    for rows in range(1, n - 18):
        margin = clean.copy()
        margin[9:9 + rows, 9:n - 9] *= np.float32(-0.05)
        if text not in _read(_plain(margin, version)):
            break
    else:
        pytest.fail("zxing-cpp read every band")
    assert _read(erasure.clean_symbol(margin.astype(np.float32), version)) == [text]


def _plain(margin: np.ndarray, version: int) -> np.ndarray:
    """What the grid reader gave zxing-cpp before: every module on its sign."""
    dark = margin > 0
    lay = erasure.layout(version)
    dark[lay.fixed] = lay.base[lay.fixed]
    return dark


def test_damage_past_the_spare_check_symbols_gives_no_code_not_a_wrong_one() -> None:
    """Confident errors (no erasure points at them) and random grids: never a wrong text."""
    wrong = decoded = 0
    for trial in range(60):
        version, level, text = CASES[trial % len(CASES)]
        dark, _mask = _code(version, level, text)
        rng = np.random.default_rng(1000 + trial)
        margin = np.where(dark, 1.0, -1.0).astype(np.float32)
        flips = rng.random(dark.shape) < rng.uniform(0.005, 0.25)
        margin[flips] *= -1  # flipped with full confidence
        margin *= rng.uniform(0.2, 1.0, dark.shape).astype(np.float32)
        if trial % 3 == 0:
            margin = rng.normal(size=dark.shape).astype(np.float32)  # no code at all
        got = _read(erasure.clean_symbol(margin, version))
        decoded += bool(got)
        wrong += any(g != text for g in got)
    assert wrong == 0 and decoded > 0, (wrong, decoded)  # some were within reach


@pytest.mark.parametrize(("seed", "index"), ERASURE_ONLY)
def test_hard_frames_the_grid_reads_only_with_erasures(seed: int, index: int) -> None:
    frame = make_frame(seed, index, hard=True)
    plain = FrameDecoder()
    plain.erasures = False
    assert frame.text not in [c.data for c in plain.decode(frame.frame)]
    decoder = FrameDecoder()
    assert [c.data for c in decoder.decode(frame.frame)] == [frame.text]
    assert decoder.stats.get("erasure") == 1
