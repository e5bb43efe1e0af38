"""Deterministic synthetic camera frames holding QR codes, for tests and the benchmark.

Each frame is 1280x720 BGR: a cluttered background (gradients, shapes, text-like strokes)
with one QR code of varied content and size, rotated up to +-30 degrees, in perspective, and
degraded by some of: Gaussian or motion blur, sensor noise, low contrast, uneven light.
The same ``seed`` and ``index`` always give the same frame.

``hard=True`` is the development set of issue 16, closer to what cameras see: modules down to
3 px, blur sigma up to 1.6, noise sigma up to 10, contrast down to 30 grey levels, perspective
up to +-40 px per corner, rotation +-30 degrees, inverted (light-on-dark, a phone in dark mode)
codes, screen moire and a glare spot.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import segno

WIDTH, HEIGHT = 1280, 720


@dataclass(frozen=True)
class TestFrame:
    """A generated frame and the text its code holds, with the degradations applied."""

    __test__ = False  # not a pytest test class

    frame: npt.NDArray[np.uint8]
    text: str
    side_px: int
    angle: float
    blur: float
    noise: float
    contrast: float
    inverted: bool = False
    moire: bool = False
    glare: bool = False
    #: the code's corners in frame pixels (top-left, top-right, bottom-right, bottom-left of
    #: the symbol with its quiet zone) and its width in modules (quiet zone included)
    corners: tuple[tuple[float, float], ...] = ()
    modules: int = 0

    @property
    def module_px(self) -> float:
        """Average module pitch in frame pixels (0 when unknown)."""
        return self.side_px / self.modules if self.modules else 0.0


def _content(rng: np.random.Generator, i: int) -> str:
    kind = i % 5
    if kind == 0:  # a dynamic identity code (about 230 chars)
        body = "".join(rng.choice(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                       "0123456789-_"), 220))
        return f"GZID1.{body[:140]}.{body[140:]}"
    if kind == 1:  # a document verification code
        return f"GZDOC1.ref-platform.receipt.APP-{rng.integers(10**8):08d}." + "x" * 86
    if kind == 2:  # an appointment code
        return f"APPT-{rng.integers(2024, 2027)}-{rng.integers(10**6):06d}"
    if kind == 3:
        return f"https://www.gdzwfw.gov.cn/verify?d={rng.integers(10**12)}"
    return "粤省事-预约-" + str(rng.integers(10**9))


def _background(rng: np.random.Generator) -> Any:
    base = rng.uniform(60, 200, 3)
    gx = np.linspace(0, 1, WIDTH, dtype=np.float32)[None, :, None]
    gy = np.linspace(0, 1, HEIGHT, dtype=np.float32)[:, None, None]
    img = base + (gx * rng.uniform(-50, 50, 3) + gy * rng.uniform(-50, 50, 3))
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(6, 14))):  # clutter: boxes and strokes
        c = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, WIDTH)), int(rng.integers(0, HEIGHT))
        w, h = int(rng.integers(20, 300)), int(rng.integers(5, 200))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x, y), (x + w, y + h), c, -1)
        else:
            cv2.line(img, (x, y), (x + w, y + h), c, int(rng.integers(1, 6)))
    return img


def _code_image(text: str, error: str) -> Any:
    qr = segno.make(text, error=error, micro=False)
    rows = np.array([list(r) for r in qr.matrix], dtype=np.uint8)
    mat = np.where(rows > 0, 0, 255).astype(np.uint8)
    return np.pad(mat, 4, constant_values=255)  # the quiet zone


def make_frame(seed: int, index: int, *, hard: bool = False) -> TestFrame:
    """Frame ``index`` of the set ``seed`` (``hard``: the harder development set)."""
    rng = np.random.default_rng([seed, index, 16] if hard else [seed, index])
    text = _content(rng, index)
    modules = _code_image(text, str(rng.choice(["L", "M", "Q"])))
    n = modules.shape[0]
    if hard:
        side = max(float(rng.uniform(n * 3.0, n * 7.0)), n * 3.0)
        side = min(side, HEIGHT * 0.8)
    else:
        side = float(rng.uniform(180, 460))
        side = max(side, n * 3.4)  # at least ~3.4 px per module at full resolution
    angle = float(rng.uniform(-30, 30))
    # the square's corners, rotated, then each corner jittered for perspective
    margin = side * 0.75
    cx = float(rng.uniform(margin, WIDTH - margin))
    cy = float(rng.uniform(margin, HEIGHT - margin)) if HEIGHT > 2 * margin else HEIGHT / 2
    half = side / 2
    a = math.radians(angle)
    ca, sa = math.cos(a), math.sin(a)
    corners = []
    for dx, dy in ((-half, -half), (half, -half), (half, half), (-half, half)):
        if hard:
            jx, jy = rng.uniform(-40, 40, 2) * min(1.0, side / 300)
        else:
            jx, jy = rng.uniform(-0.08, 0.08, 2) * side
        corners.append((cx + dx * ca - dy * sa + jx, cy + dx * sa + dy * ca + jy))
    up = 4  # warp from 4 px per module with linear filtering: anti-aliased module edges
    modules = cv2.resize(modules, None, fx=up, fy=up, interpolation=cv2.INTER_NEAREST)
    src = np.array([[0, 0], [n * up, 0], [n * up, n * up], [0, n * up]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(src, np.array(corners, dtype=np.float32))
    code = cv2.warpPerspective(modules, m, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR,
                               borderValue=0)
    mask = cv2.warpPerspective(np.full_like(modules, 255), m, (WIDTH, HEIGHT),
                               flags=cv2.INTER_NEAREST, borderValue=0)
    inverted = hard and rng.random() < 0.2
    if hard:  # grey levels between dark and light modules: 30 .. 150
        contrast = float(rng.choice([1.0, 0.7, 0.45, 0.3, 0.22]))
        light = float(rng.uniform(150, 245))
        dark = max(0.0, light - contrast * 135.0)
    else:
        contrast = float(rng.choice([1.0, 1.0, 0.7, 0.5, 0.4]))
        light = float(rng.uniform(150, 245))
        dark = max(light - contrast * float(rng.uniform(110, 150)), 0.0)
    tint = rng.uniform(0.85, 1.0, 3)
    level = code.astype(np.float32) / 255.0
    if inverted:  # dark mode: light modules on a dark screen
        level = 1.0 - level
    code_f = (dark + (light - dark) * level).astype(np.float32)
    img: Any = _background(rng).astype(np.float32)
    sel = mask > 0
    img[sel] = code_f[sel][:, None] * tint
    moire = hard and rng.random() < 0.25
    if moire:  # a phone screen seen by a camera: beating fringes over the code
        yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
        k = rng.uniform(0.15, 0.35)
        th = rng.uniform(0, math.pi)
        fringe = 1.0 + 0.12 * np.sin(k * (xx * math.cos(th) + yy * math.sin(th)))
        img[sel] *= fringe[sel][:, None]
    glare = hard and rng.random() < 0.25
    if glare:  # a reflected light on the screen or a glossy print
        gx0, gy0 = corners[int(rng.integers(0, 4))]
        gx = (gx0 + cx) / 2
        gy = (gy0 + cy) / 2
        yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
        r = side * float(rng.uniform(0.08, 0.18))
        spot = np.exp(-(((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * r * r)))
        img += (90.0 * spot)[..., None]
    # uneven light over the whole frame
    if rng.random() < 0.4:
        gx = np.linspace(-1, 1, WIDTH, dtype=np.float32)[None, :, None]
        img *= 1.0 + float(rng.uniform(-0.25, 0.25)) * gx
    blur = 0.0
    r = rng.random()
    if r < (0.5 if hard else 0.35):
        blur = float(rng.uniform(0.5, 1.6))
        img = cv2.GaussianBlur(img, (0, 0), blur)
    elif r < (0.65 if hard else 0.5):  # motion blur
        k = int(rng.integers(3, 6))
        kernel: Any = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), float(rng.uniform(0, 180)), 1)
        kernel = cv2.warpAffine(kernel, rot, (k, k))
        kernel /= max(float(kernel.sum()), 1e-6)
        img = cv2.filter2D(img, -1, kernel)
        blur = float(k)
    choices = [0.0, 2.0, 4.0, 7.0, 10.0] if hard else [0.0, 0.0, 2.0, 4.0, 6.0]
    noise = float(rng.choice(choices))
    if noise:
        img += rng.normal(0, noise, img.shape).astype(np.float32)
    frame = np.clip(img, 0, 255).astype(np.uint8)
    return TestFrame(frame, text, int(side), angle, blur, noise, contrast, inverted, moire, glare,
                     tuple((float(x), float(y)) for x, y in corners), n)


def make_background(seed: int, index: int) -> npt.NDArray[np.uint8]:
    """Frame ``index`` of the code-less set ``seed``: a background of the hard set with its
    uneven light, blur and sensor noise, and no code (what the camera sees between citizens)."""
    rng = np.random.default_rng([seed, index, 61])
    img: Any = _background(rng).astype(np.float32)
    if rng.random() < 0.4:
        gx = np.linspace(-1, 1, WIDTH, dtype=np.float32)[None, :, None]
        img *= 1.0 + float(rng.uniform(-0.25, 0.25)) * gx
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.5, 1.6)))
    noise = float(rng.choice([0.0, 2.0, 4.0, 7.0, 10.0]))
    if noise:
        img += rng.normal(0, noise, img.shape).astype(np.float32)
    out: npt.NDArray[np.uint8] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def frames(seed: int = 2024, count: int = 200, *, hard: bool = False) -> Iterator[TestFrame]:
    """``count`` frames of set ``seed``."""
    for i in range(count):
        yield make_frame(seed, i, hard=hard)
