"""Reading a QR code's module grid ourselves, from four rough corners of the symbol.

zxing-cpp samples the grid from the finder patterns it found; on a blurred, noisy,
30-grey-level code it finds them imprecisely or not at all, and the grid it samples is off
by a fraction of a module, which is enough to lose the code. Here the corners come from
three finder patterns of our own search (:mod:`hardware.qr.finders`, :func:`fit_finders`:
the fourth corner searched) or from OpenCV's ArUco-based QR detector (:func:`corner_sets`,
:func:`fit`), and

* the version is chosen by how well the *function patterns* (finders, separators, timing and
  alignment patterns: the modules every symbol of a version has, whatever it holds) match
  the image sampled through the corners (:func:`pattern_score`);
* the corners are refined by coordinate search on that score, from a module down to a
  sixteenth of one (:func:`refine`);
* every module is sampled at its centre and classified against the mean of its neighbours
  (uneven light and a glare rim cancel out), and the grid is drawn again as a clean,
  upright symbol for zxing-cpp to decode (its Reed-Solomon decoding does the rest).

Pure functions over NumPy images; no I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import segno
from segno import consts
from segno.utils import matrix_iter_verbose  # type: ignore[attr-defined]  # untyped module

Image = npt.NDArray[Any]
Corners = npt.NDArray[np.float32]  # 4x2: top-left, top-right, bottom-right, bottom-left

_DARK = {consts.TYPE_FINDER_PATTERN_DARK, consts.TYPE_TIMING_DARK,
         consts.TYPE_ALIGNMENT_PATTERN_DARK, consts.TYPE_DARKMODULE}
_LIGHT = {consts.TYPE_FINDER_PATTERN_LIGHT, consts.TYPE_TIMING_LIGHT,
          consts.TYPE_ALIGNMENT_PATTERN_LIGHT, consts.TYPE_SEPARATOR}
MAX_VERSION = 20  # 97 modules: beyond what a kiosk camera resolves at 3 px a module
WINDOWS = (5, 7, 9)  # neighbourhoods (modules) a module is compared with
_PX = 4  # pixels per module of the clean symbol drawn for zxing-cpp


def size(version: int) -> int:
    """Modules per side of a version, without the quiet zone."""
    return 17 + 4 * version


@functools.lru_cache(maxsize=MAX_VERSION)
def function_pattern(version: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Module centres (x, y in modules, N x 2) of the function patterns of ``version`` and
    their expected darkness (+1 dark, -1 light), from segno's own layout of the version."""
    qr = segno.make("0", version=version, error="L", micro=False, boost_error=False,
                    mask=0)  # any mask: the function patterns are not masked
    n = size(version)
    types = np.array(list(matrix_iter_verbose(qr.matrix, (n, n), border=0)))
    dark = np.isin(types, list(_DARK))
    light = np.isin(types, list(_LIGHT))
    ys, xs = np.nonzero(dark | light)
    points = np.stack([xs + 0.5, ys + 0.5], axis=1).astype(np.float32)
    expected = np.where(dark[ys, xs], 1.0, -1.0).astype(np.float32)
    return points, expected


@functools.lru_cache(maxsize=MAX_VERSION)
def _pattern_cells(version: int) -> tuple[Any, Any, Any]:
    """:func:`function_pattern` as module indices (rows, cols) and their darkness."""
    points, expected = function_pattern(version)
    return ((points[:, 1] - 0.5).astype(int), (points[:, 0] - 0.5).astype(int),
            expected > 0)


@functools.lru_cache(maxsize=MAX_VERSION)
def finder_pattern(version: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """The part of :func:`function_pattern` in the three finders and their separators: what
    three finders fix, whatever the perspective does to the fourth corner."""
    points, expected = function_pattern(version)
    n = size(version)
    x, y = points[:, 0], points[:, 1]
    near = ((x < 8) & (y < 8)) | ((x > n - 8) & (y < 8)) | ((x < 8) & (y > n - 8))
    return points[near], expected[near]


def finder_score(img: Image, corners: Corners, version: int) -> float:
    """|Correlation| of darkness with the finders alone: a cheap first look before a fit
    (on the tune seeds, the true finders of codes 0.1-0.85, eyes and screen texture in the
    code-less frames up to 0.32)."""
    points, expected = finder_pattern(version)
    return abs(float(_correlations(img, corners[None], size(version), points, expected)[0]))


def _correlations(img: Image, corner_sets: npt.NDArray[np.float32], n: int,
                  points: npt.NDArray[np.float32], expected: npt.NDArray[np.float32]) -> Any:
    """Correlation of darkness at ``points`` (modules of an ``n``-module symbol) with
    ``expected`` for each of ``corner_sets`` (k x 4 x 2), in one bilinear sampling."""
    unit = np.array([[0, 0], [n, 0], [n, n], [0, n]], np.float32)
    hs = np.stack([cv2.getPerspectiveTransform(unit, c.astype(np.float32))
                   for c in corner_sets])
    homogeneous = np.hstack([points, np.ones((len(points), 1), np.float32)]).astype(np.float64)
    mapped = homogeneous @ hs.transpose(0, 2, 1)  # k x m x 3
    xy = (mapped[..., :2] / mapped[..., 2:3]).astype(np.float32)
    values = -cv2.remap(img, xy[..., 0], xy[..., 1], cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE).astype(np.float64)
    centred = values - values.mean(axis=1, keepdims=True)
    sd = np.maximum(values.std(axis=1), 1e-6)
    return (centred * expected).mean(axis=1) / sd


def pattern_scores(img: Image, corner_sets: npt.NDArray[np.float32], version: int) -> Any:
    """Correlation of darkness with the function patterns for each of ``corner_sets``
    (k x 4 x 2), in one sampling: 1 is a perfect match; negative, light-on-dark (an inverted
    code)."""
    return _correlations(img, corner_sets, size(version), *function_pattern(version))


def pattern_score(img: Image, corners: Corners, version: int) -> float:
    """:func:`pattern_scores` for one set of corners."""
    return float(pattern_scores(img, corners[None], version)[0])


_MOVES = np.zeros((16, 4, 2), np.float32)  # each coordinate of each corner, both ways
for _k in range(8):
    _MOVES[2 * _k, _k // 2, _k % 2] = 1.0
    _MOVES[2 * _k + 1, _k // 2, _k % 2] = -1.0


def refine(img: Image, corners: Corners, version: int, *, rounds: int = 3,
           first: float | None = None) -> tuple[Corners, float]:
    """``corners`` moved while the pattern score improves, from a step of half a module down
    to a sixteenth: each round scores every coordinate moved both ways at once and keeps
    every move that helped (or the best one alone, if together they do not); (corners,
    |score|). ``first``: the corners' (signed) score, when the caller has it."""
    best = corners.astype(np.float32).copy()
    if first is None:
        first = pattern_score(img, best, version)
    sign = 1.0 if first >= 0 else -1.0
    score = sign * first
    pitch = float(np.mean(np.linalg.norm(best - np.roll(best, 1, axis=0), axis=1))) \
        / size(version)
    step = pitch / 2
    while step >= pitch / 16:
        for _ in range(rounds):
            trials = best[None] + _MOVES * np.float32(step)
            gains = sign * pattern_scores(img, trials, version) - score
            if float(gains.max()) <= 1e-6:
                break
            together = best.copy()
            for k in range(8):
                pick = 2 * k + int(gains[2 * k + 1] > gains[2 * k])
                if gains[pick] > 0:
                    together += _MOVES[pick] * np.float32(step)
            joint = sign * pattern_score(img, together, version)
            top = int(np.argmax(gains))
            if joint >= score + float(gains[top]):
                best, score = together, joint
            else:
                best, score = trials[top], score + float(gains[top])
        step /= 2
    return best, score


def versions(corners: Corners, *, min_px: float = 2.0, max_px: float = 14.0) -> list[int]:
    """The versions whose module pitch through ``corners`` is plausible."""
    side = float(np.mean(np.linalg.norm(corners - np.roll(corners, 1, axis=0), axis=1)))
    return [v for v in range(1, MAX_VERSION + 1) if min_px <= side / size(v) <= max_px]


_K = 7  # pixels per module of the warped symbol the modules are read from


def nearest_versions(modules_wide: float, k: int = 2) -> list[int]:
    """The ``k`` versions whose width is nearest ``modules_wide``."""
    ranked = sorted(range(1, MAX_VERSION + 1), key=lambda v: abs(size(v) - modules_wide))
    return ranked[:k]


def modules(img: Image, corners: Corners, version: int) -> Any:
    """Every module's grey value (n x n float32): the symbol warped upright at 7 px a module,
    each module the mean of its central 3 x 3 (sensor noise averages out; a blurred edge
    does not reach the centre)."""
    n = size(version)
    side = n * _K
    unit = np.array([[0, 0], [side, 0], [side, side], [0, side]], np.float32)
    h = cv2.getPerspectiveTransform(corners.astype(np.float32), unit)
    warped = cv2.warpPerspective(img, h, (side, side), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
    out = cv2.blur(warped, (3, 3))[_K // 2::_K, _K // 2::_K]
    return out[:n, :n]


def render(dark: npt.NDArray[np.bool_]) -> Image:
    """A clean upright symbol (4 px a module, quiet zone) for zxing-cpp."""
    img: Image = np.where(dark, 0, 255).astype(np.uint8)
    img = cv2.resize(img, None, fx=_PX, fy=_PX, interpolation=cv2.INTER_NEAREST)
    out: Image = cv2.copyMakeBorder(img, 4 * _PX, 4 * _PX, 4 * _PX, 4 * _PX,
                                    cv2.BORDER_CONSTANT, value=255)
    return out


@dataclass(frozen=True)
class Grid:
    """A fitted symbol: its version, refined corners and pattern score, polarity."""

    version: int
    corners: Corners
    score: float
    inverted: bool


def fit(img: Image, corners: Corners, *, keep: int = 2, min_score: float = 0.35) -> list[Grid]:
    """The best ``keep`` versions for ``corners`` in ``img`` (float32, lightly smoothed),
    each with its corners refined; only fits whose function patterns match (``min_score``)."""
    rough = []
    for v in versions(corners):
        s = pattern_score(img, corners, v)
        rough.append((abs(s), v, s < 0))
    rough.sort(reverse=True)
    fitted = []
    for first, v, inverted in rough[:keep]:
        refined, score = refine(img, corners, v, first=-first if inverted else first)
        if score >= min_score:
            fitted.append(Grid(v, refined, score, inverted))
    fitted.sort(key=lambda g: -g.score)
    return fitted


def margins(img: Image, grid: Grid) -> Iterator[npt.NDArray[np.float32]]:
    """Each module's darkness against the mean of its neighbourhood (n x n, > 0 dark), one
    array per neighbourhood in :data:`WINDOWS` (uneven light and a glare rim cancel out),
    then :func:`deblurred`."""
    values = modules(img, grid.corners, grid.version).astype(np.float32)
    if grid.inverted:
        values = -values
    for win in WINDOWS:
        yield cv2.blur(values, (win, win), borderType=cv2.BORDER_REFLECT) - values
    yield deblurred(values, grid.version)


_CROSS = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], np.float32)
_DIAGONAL = np.array([[1, 0, 1], [0, 0, 0], [1, 0, 1]], np.float32)


def deblurred(values: npt.NDArray[np.float32], version: int, *, rounds: int = 6
              ) -> npt.NDArray[np.float32]:
    """Darkness (> 0 dark) with the blur's spill from neighbouring modules taken out: a
    module's grey value is modelled as ``a * its darkness + b * its 4 neighbours' + c * its
    4 diagonal neighbours' + d * the local mean + e + a light gradient``, fitted by least
    squares on the function patterns (known) first, then on every module with the current
    reading, which is solved again each round (decision feedback). Reads blurred codes whose
    isolated modules a comparison with the neighbourhood gets wrong."""
    n = values.shape[0]
    ys, xs, known_dark = _pattern_cells(version)
    mean = cv2.blur(values, (7, 7), borderType=cv2.BORDER_REFLECT)
    dark = (values < mean).astype(np.float32)
    dark[ys, xs] = known_dark
    u, v = np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n))
    fixed = np.stack([np.ones_like(u), mean, u, v], -1).reshape(-1, 4)
    known = np.zeros(n * n, bool)
    known[ys * n + xs] = True
    seen = values.reshape(-1).astype(np.float64)
    estimate = np.zeros(n * n)
    for k in range(rounds):
        padded = np.pad(dark, 1)  # the quiet zone is light
        cross = cv2.filter2D(padded, -1, _CROSS)[1:-1, 1:-1].reshape(-1)
        diagonal = cv2.filter2D(padded, -1, _DIAGONAL)[1:-1, 1:-1].reshape(-1)
        features = np.column_stack([dark.reshape(-1), cross, diagonal, fixed])
        rows = known if k == 0 else slice(None)
        coef = np.linalg.lstsq(features[rows], seen[rows], rcond=None)[0]
        if abs(coef[0]) < 1e-6:
            break  # no contrast to solve for
        estimate = (seen - features[:, 1:] @ coef[1:]) / coef[0]
        dark = (estimate > 0.5).reshape(n, n).astype(np.float32)
        dark[ys, xs] = known_dark
    return (estimate - 0.5).reshape(n, n).astype(np.float32)


def symbol(margin: npt.NDArray[np.float32], version: int) -> Image:
    """The clean symbol of ``margin`` (:func:`margins`), its function patterns drawn as they
    must be (one wrong module in a finder made zxing-cpp's pure reader give up)."""
    ys, xs, known_dark = _pattern_cells(version)
    dark = margin > 0
    dark[ys, xs] = known_dark
    return render(dark)


def symbols(img: Image, grid: Grid) -> Iterator[Image]:
    """Clean symbols drawn from ``grid``, one per neighbourhood in :data:`WINDOWS`."""
    for margin in margins(img, grid):
        yield symbol(margin, grid.version)


def corner_sets(detector: Any, images: Sequence[tuple[Image, float]]) -> Iterator[Corners]:
    """Symbol corners OpenCV's detector finds in each of ``images`` (image, its scale
    against the geometry wanted), in that geometry."""
    for image, scale in images:
        try:
            ok, points = detector.detect(image)
        except cv2.error:
            continue
        if ok and points is not None and np.asarray(points).size == 8:
            yield np.asarray(points, np.float32).reshape(4, 2) / np.float32(scale)


def search_corner(img: Image, corners: Corners, version: int, *,
                  reach: float = 0.18) -> tuple[Corners, float]:
    """``corners`` with the bottom-right one moved to where the function patterns (the
    alignment pattern above all) match best, and their (signed) score: a search over
    ``reach`` of the symbol's width in steps of 2 modules, then 1 and 0.5 around the best.
    Three finders fix the other three corners; under perspective the fourth is off by up to
    a fifth of the symbol."""
    n = size(version)
    u = (corners[1] - corners[0]) / n
    w = (corners[3] - corners[0]) / n
    first = pattern_score(img, corners, version)
    sign = 1.0 if first >= 0 else -1.0
    best, score = corners, sign * first
    span = max(3, int(round(reach * n)))
    for step, around in ((2.0, span), (1.0, 2), (0.5, 2)):
        offsets = np.arange(-around, around + 1e-6, step, dtype=np.float32)
        a, b = (g.ravel() for g in np.meshgrid(offsets, offsets))
        trials = np.repeat(best[None], len(a), axis=0)
        trials[:, 2] += a[:, None] * u + b[:, None] * w
        scores = sign * pattern_scores(img, trials, version)
        top = int(np.argmax(scores))
        if float(scores[top]) > score:
            best, score = trials[top], float(scores[top])
    return best, sign * score


def fit_finders(img: Image, candidates: Sequence[tuple[int, Corners]], *,
                min_score: float = 0.35) -> Grid | None:
    """The best of ``candidates`` (version, corners from three finders) in ``img``: the
    bottom-right corner searched (:func:`search_corner`), then all four refined; None when
    no fit's function patterns match (``min_score``)."""
    best: Grid | None = None
    for version, corners in candidates:
        found, first = search_corner(img, corners, version)
        refined, score = refine(img, found, version, first=first)
        if score >= min_score and (best is None or score > best.score):
            best = Grid(version, refined, score, first < 0)
    return best
