"""Finding a QR code's three finder patterns ourselves, where zxing-cpp and OpenCV find none.

On a 30-grey-level, noisy, blurred code both detectors binarise first, and the 1:1:3:1:1
runs they look for break up. Here nothing is binarised:

* the region is turned upright first (:func:`skew`: the code's edges run along two
  perpendicular directions, the fourth-harmonic mean of the gradient angles);
* a finder is a dark 3x3-module core in a light ring in a dark ring: at each module pitch
  of :data:`PITCHES`, box means over 3, 5 and 7 modules give the core and the two rings, and
  the score is how much lighter the light ring is than both (:func:`finder_map`); both
  polarities come from the same boxes (light-on-dark codes of phones in dark mode);
* three peaks that form a right isosceles triangle are a symbol's finders
  (:func:`triples`), the right angle at the top-left one and the other two in clockwise
  order, whatever the rotation.

Pure functions over NumPy images; no I/O.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[Any]
Point = npt.NDArray[np.float64]

PITCHES = tuple(2.5 * 1.15 ** i for i in range(9))  # 2.5 .. 7.6 px a module
MIN_SCORE = 20.0  # grey levels (local_normalise's scale: 60 a deviation) rings must differ
MAX_FINDERS = 10


def skew(img: Image) -> float:
    """The angle (degrees, -45..45) by which ``img`` must be turned (as
    ``cv2.getRotationMatrix2D`` turns) for a code in it to stand upright."""
    f = img.astype(np.float32)
    gx = cv2.Sobel(f, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(f, cv2.CV_32F, 0, 1, ksize=3)
    weight = gx * gx + gy * gy
    angle = np.arctan2(gy, gx) * 4.0
    c, s = float((weight * np.cos(angle)).sum()), float((weight * np.sin(angle)).sum())
    return math.degrees(math.atan2(s, c) / 4.0)


def finder_map(img: Image, pitch: float) -> tuple[Image, Image]:
    """Finder scores at every pixel of ``img`` (float32) for modules of ``pitch`` px:
    (dark finders on light, light finders on dark)."""
    sides = [max(1, int(round(m * pitch))) | 1 for m in (3, 5, 7)]
    means = [cv2.boxFilter(img, -1, (k, k), borderType=cv2.BORDER_REFLECT) for k in sides]
    areas = [k * k for k in sides]
    core = means[0]
    ring1 = (means[1] * areas[1] - means[0] * areas[0]) / (areas[1] - areas[0])
    ring2 = (means[2] * areas[2] - means[1] * areas[1]) / (areas[2] - areas[1])
    dark = np.minimum(ring1 - core, ring1 - ring2)
    light = np.minimum(core - ring1, ring2 - ring1)
    return dark, light


@dataclass(frozen=True)
class Finder:
    """A finder pattern's centre (px), module pitch (px) and score."""

    x: float
    y: float
    pitch: float
    score: float


def finders(img: Image, *, limit: int = MAX_FINDERS,
            min_score: float = MIN_SCORE) -> tuple[list[Finder], list[Finder]]:
    """The strongest finder candidates in ``img`` (upright, float32), at most ``limit`` of
    each polarity, at least three pitches apart: (dark on light, light on dark)."""
    found: tuple[list[Finder], list[Finder]] = ([], [])
    for pitch in PITCHES:
        r = max(3, int(2 * pitch)) | 1
        kernel = np.ones((r, r), np.uint8)
        for maps, out in zip(finder_map(img, pitch), found, strict=True):
            peak = (maps > min_score) & (maps >= cv2.dilate(maps, kernel))
            ys, xs = np.nonzero(peak)
            out.extend(Finder(float(x), float(y), pitch, float(maps[y, x]))
                       for y, x in zip(ys, xs, strict=True))
    kept: tuple[list[Finder], list[Finder]] = ([], [])
    for out, keep in zip(found, kept, strict=True):
        for f in sorted(out, key=lambda f: -f.score):
            if all(math.hypot(f.x - k.x, f.y - k.y) > 3 * max(f.pitch, k.pitch) for k in keep):
                keep.append(f)
            if len(keep) >= limit:
                break
    return kept


@dataclass(frozen=True)
class Triple:
    """Three finders of one symbol: top-left (the right angle), top-right, bottom-left."""

    top_left: Point
    top_right: Point
    bottom_left: Point
    pitch: float
    score: float

    def modules(self) -> float:
        """The symbol's width in modules, estimated from the finders' distance and pitch."""
        leg = (np.linalg.norm(self.top_right - self.top_left)
               + np.linalg.norm(self.bottom_left - self.top_left)) / 2
        return float(leg / self.pitch + 7)

    def corners(self, n: int) -> npt.NDArray[np.float32]:
        """The corners of an ``n``-module symbol through these finders (a parallelogram:
        the bottom-right corner is a guess under perspective)."""
        u = (self.top_right - self.top_left) / (n - 7)
        w = (self.bottom_left - self.top_left) / (n - 7)
        tl, tr, bl = self.top_left, self.top_right, self.bottom_left
        return np.array([tl - 3.5 * (u + w), tr + 3.5 * (u - w), tr + bl - tl + 3.5 * (u + w),
                         bl - 3.5 * (u - w)], np.float32)


def triples(found: list[Finder], *, limit: int = 3) -> list[Triple]:
    """The ``limit`` strongest sets of three finders placed as a symbol's are: legs within
    20 % of each other, the hypotenuse within 0.2 of sqrt(2) legs (each of the three may be
    the right angle: a glare spot can make a wrong peak fit too)."""
    if len(found) < 3:
        return []
    pts = np.array([[f.x, f.y] for f in found])
    dist = np.linalg.norm(pts[:, None] - pts[None], axis=2)
    out: list[Triple] = []
    for group in itertools.combinations(range(len(found)), 3):
        for i in range(3):
            a, b, c = group[i], group[(i + 1) % 3], group[(i + 2) % 3]
            ab, ac, bc = dist[a, b], dist[a, c], dist[b, c]
            if bc < max(ab, ac) or not 0.8 < ab / ac < 1.25:
                continue
            if abs(bc / ((ab + ac) / 2) - math.sqrt(2)) > 0.2:
                continue
            pa, pb, pc = pts[a], pts[b], pts[c]
            cross = (pb - pa)[0] * (pc - pa)[1] - (pb - pa)[1] * (pc - pa)[0]
            tr, bl = (pb, pc) if cross > 0 else (pc, pb)  # clockwise from top-left (y down)
            out.append(Triple(pa, tr, bl, float(np.mean([found[k].pitch for k in group])),
                              sum(found[k].score for k in group)))
    out.sort(key=lambda t: -t.score)
    return out[:limit]


def upright(img: Image) -> tuple[Image, npt.NDArray[np.float64]]:
    """``img`` (float32) turned by :func:`skew` about its centre, and the 2x3 affine matrix
    that maps points of the turned image back to ``img``."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), skew(img), 1.0)
    turned: Image = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    back = np.asarray(cv2.invertAffineTransform(m), np.float64)
    return turned, back
