"""Our own finder-pattern search (issue 16): a turned code is turned upright, its three
finders found without binarising (dark on light and light on dark), ordered as the symbol
has them; the fourth corner found under perspective by the alignment pattern; three blobs
in a row are not a code."""

from __future__ import annotations

import math

import cv2
import numpy as np
import segno

from hardware.qr import finders, grid

PX = 5  # pixels a module


def _symbol(text: str, *, inverted: bool = False) -> tuple[np.ndarray, int]:
    qr = segno.make(text, error="M", micro=False)
    rows = np.array([list(r) for r in qr.matrix], np.uint8) > 0
    dark, light = (200.0, 60.0) if inverted else (60.0, 200.0)
    img = np.where(rows, dark, light).astype(np.float32)
    img = cv2.resize(img, None, fx=PX, fy=PX, interpolation=cv2.INTER_NEAREST)
    return img, int(qr.version)


def _placed(img: np.ndarray, corners: np.ndarray, size: tuple[int, int],
            background: float) -> np.ndarray:
    """``img`` warped onto ``corners`` of a ``size`` canvas, blurred a little, with noise."""
    h, w = img.shape
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    m = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    out = cv2.warpPerspective(img, m, size, flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=background)
    out = cv2.GaussianBlur(out, (0, 0), 1.0)
    out += np.random.default_rng(1).normal(0, 4, out.shape).astype(np.float32)
    return out


def _turned(angle: float, side: float, centre: float) -> np.ndarray:
    a = math.radians(angle)
    half = side / 2
    return np.array([(centre + dx * math.cos(a) - dy * math.sin(a),
                      centre + dx * math.sin(a) + dy * math.cos(a))
                     for dx, dy in ((-half, -half), (half, -half), (half, half),
                                    (-half, half))], np.float32)


def _back(triple: finders.Triple, back: np.ndarray, n: int) -> np.ndarray:
    return cv2.transform(triple.corners(n)[:, None], back)[:, 0]


def test_a_turned_code_stands_upright_and_its_finders_come_in_order() -> None:
    img, version = _symbol("GZDOC1.ref-platform.receipt.APP-00012345.abcdefgh")
    n = grid.size(version)
    for angle in (-28.0, 0.0, 17.0):
        corners = _turned(angle, n * PX, 200.0)
        frame = _placed(img, corners, (400, 400), 200.0)
        turned, back = finders.upright(frame)
        dark, light = finders.finders(turned)
        assert light == [] or max(f.score for f in light) < max(f.score for f in dark)
        triple = finders.triples(dark)[0]
        assert grid.size(grid.nearest_versions(triple.modules(), 1)[0]) == n
        found = _back(triple, back, n)
        # top-left first, clockwise: each corner within a module of where it is
        assert float(np.abs(found - corners).max()) < PX, (angle, found, corners)


def test_light_on_dark_finders_are_found_as_such() -> None:
    img, version = _symbol("APPT-2026-000123", inverted=True)
    n = grid.size(version)
    corners = _turned(10.0, n * PX, 150.0)
    frame = _placed(img, corners, (300, 300), 60.0)
    turned, back = finders.upright(frame)
    dark, light = finders.finders(turned)
    triple = finders.triples(light)[0]
    assert float(np.abs(_back(triple, back, n) - corners).max()) < PX


def test_three_blobs_in_a_row_are_not_a_code() -> None:
    row = [finders.Finder(x, 50.0, 4.0, 60.0) for x in (10.0, 60.0, 110.0)]
    assert finders.triples(row) == []
    corner = [finders.Finder(10.0, 10.0, 4.0, 60.0), finders.Finder(110.0, 10.0, 4.0, 60.0),
              finders.Finder(10.0, 110.0, 4.0, 60.0)]
    (triple,) = finders.triples(list(reversed(corner)))  # any order: top-left is found
    assert tuple(triple.top_left) == (10.0, 10.0) and tuple(triple.top_right) == (110.0, 10.0)


def test_the_fourth_corner_is_found_under_perspective() -> None:
    img, version = _symbol("https://www.gdzwfw.gov.cn/verify?d=" + "7" * 60)
    n = grid.size(version)
    corners = np.array([[40, 40], [40 + n * PX, 48], [40 + n * PX + 30, 40 + n * PX + 25],
                        [44, 40 + n * PX]], np.float32)  # the bottom-right pulled out
    frame = _placed(img, corners, (500, 500), 200.0)
    guess = corners.copy()
    guess[2] = corners[1] + corners[3] - corners[0]  # what three finders alone give
    assert float(np.linalg.norm(guess[2] - corners[2])) > 5 * PX
    found, _score = grid.search_corner(frame, guess, version)
    assert float(np.linalg.norm(found[2] - corners[2])) < PX
    fitted = grid.fit_finders(frame, [(version, guess)])
    assert fitted is not None and fitted.version == version and fitted.score > 0.8
    assert float(np.abs(fitted.corners - corners).max()) < PX / 2
