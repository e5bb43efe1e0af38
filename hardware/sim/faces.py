"""Demo faces for the demo citizens (``config/demo/citizens.yaml``, field ``face``): the face
renderer of the simulator kit. It is imported only by the camera simulator (``sim://faces``),
the reference platform's demo seed (reference photos) and tests and benchmarks, never by a
production camera.

Everything is generated in memory from scikit-image's bundled data (no downloads, nothing
written to disk): ``astronaut`` is the 512x512 colour portrait, ``lfw-1`` .. ``lfw-4`` are faces
from ``lfw_subset`` (25x25 grayscale, upscaled; see ``kiosk/face/README.md`` for what that
means for accuracy). :func:`reference_jpeg` is the holder's reference photo as the platform would
hold it; :func:`live_frame` is a 640x480 BGR camera scene with the same face, differently lit,
cropped, scaled and posed, so a verification compares two different images of one face.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from hardware.sim.people import citizens

Image = npt.NDArray[Any]  # uint8 images (cv2 returns loosely typed arrays)

# face key -> index into skimage.data.lfw_subset() (faces are indices 0..99); chosen as
# distinct people that dlib's detector finds after upscaling.
LFW_INDEX: dict[str, int] = {"lfw-1": 1, "lfw-2": 18, "lfw-3": 6, "lfw-4": 19}
FACE_KEYS: tuple[str, ...] = ("astronaut", *LFW_INDEX)
FRAME_W, FRAME_H = 640, 480


@dataclass(frozen=True)
class Pose:
    """How the simulated person stands: yaw in [-1, 1] (negative = their head turned to the
    camera's left), scale 1.0 = a normal distance, offsets in pixels, roll in degrees."""

    yaw: float = 0.0
    scale: float = 1.0
    dx: float = 0.0
    dy: float = 0.0
    roll: float = 0.0


class UnknownFace(KeyError):
    """The key names neither a demo face nor a demo citizen."""


@functools.cache
def _citizen_faces() -> dict[str, str]:
    try:
        people = citizens()
    except (OSError, ValueError):
        return {}
    return {str(c["key"]): str(c["face"]) for c in people if "face" in c}


def resolve(key: str) -> str:
    """The face key for a face key or a demo citizen's key (``chen`` -> ``astronaut``).

    ``lfw:<n>`` names face ``n`` (0..99) of ``lfw_subset`` directly (used for accuracy runs).
    """
    if key in FACE_KEYS:
        return key
    if key.startswith("lfw:") and key[4:].isdigit() and int(key[4:]) < 100:
        return key
    face = _citizen_faces().get(key)
    if face is None or face not in FACE_KEYS:
        raise UnknownFace(key)
    return face


@functools.cache
def _lfw() -> npt.NDArray[Any]:
    from skimage import data

    return np.asarray(data.lfw_subset())  # type: ignore[no-untyped-call]  # skimage: no stubs


@functools.cache
def portrait(key: str) -> Image:
    """A square RGB head-and-shoulders crop (the face fills the middle half); read-only."""
    key = resolve(key)
    if key == "astronaut":
        from skimage import data

        img = np.asarray(data.astronaut())[15:245, 105:335]  # type: ignore[no-untyped-call]  # skimage
        out = cv2.resize(img, (256, 256), interpolation=cv2.INTER_AREA)
    else:
        index = int(key[4:]) if key.startswith("lfw:") else LFW_INDEX[key]
        gray = (_lfw()[index] * 255.0).astype(np.uint8)
        up = cv2.resize(gray, (150, 150), interpolation=cv2.INTER_CUBIC)
        padded = cv2.copyMakeBorder(up, 53, 53, 53, 53, cv2.BORDER_REFLECT_101)
        soft = cv2.GaussianBlur(padded, (0, 0), 9)
        padded[:53], padded[-53:], padded[:, :53], padded[:, -53:] = (
            soft[:53], soft[-53:], soft[:, :53], soft[:, -53:])
        out = cv2.cvtColor(padded, cv2.COLOR_GRAY2RGB)
    out = np.ascontiguousarray(out, dtype=np.uint8)
    out.setflags(write=False)
    return out


def _adjust(img: Image, gain: float, bias: float, gamma: float = 1.0) -> Image:
    f = img.astype(np.float32) / 255.0
    if gamma != 1.0:
        f = np.power(f, gamma)
    return np.clip(f * 255.0 * gain + bias, 0, 255).astype(np.uint8)


def reference_jpeg(key: str, quality: int = 90) -> bytes:
    """The holder's reference photo (JPEG bytes, RGB content), as held by the platform."""
    img = portrait(key)
    crop = img[8:248, 20:236]  # portrait format, a little tighter than the live view
    ref = cv2.resize(crop, (216, 240), interpolation=cv2.INTER_AREA)
    ref = _adjust(ref, 1.06, 6.0, gamma=0.95)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(ref, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - cv2 always encodes a valid array
        raise RuntimeError("jpeg encoding failed")
    return bytes(buf.tobytes())


@functools.cache
def _background() -> Image:
    y, x = np.mgrid[0:FRAME_H, 0:FRAME_W].astype(np.float32)
    base = 95 + 40 * (x / FRAME_W) + 20 * (y / FRAME_H)
    bg = np.dstack([base * 0.95, base, base * 1.08]).clip(0, 255).astype(np.uint8)
    bg.setflags(write=False)
    return bg


NOISE_BANK = 8  # sensor-noise patterns cycled through, drawn once (drawing per frame is slow)


@functools.cache
def _noise(index: int, sigma: float) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(index)
    pattern = rng.normal(0.0, sigma, (FRAME_H, FRAME_W, 3)).astype(np.float32)
    pattern.setflags(write=False)
    return pattern


def _add_noise(frame: npt.NDArray[np.float32], seed: int | None, sigma: float) -> None:
    if sigma > 0:
        index = (seed or 0) % NOISE_BANK
        frame += _noise(index, sigma)


@functools.cache
def _live_base(key: str) -> Image:
    """The portrait under the camera's light (another exposure than the reference photo)."""
    face = _adjust(portrait(key), 0.93, -4.0, gamma=1.08)
    face.setflags(write=False)
    return face


@functools.cache
def _empty(index: int, sigma: float) -> Image:
    frame = _background().astype(np.float32)
    _add_noise(frame, index, sigma)
    out = np.clip(frame, 0, 255).astype(np.uint8)
    out.setflags(write=False)
    return out


@functools.cache
def _ellipse_mask(size: int) -> npt.NDArray[Any]:
    mask = np.zeros((size, size), np.float32)
    cv2.ellipse(mask, (size // 2, size // 2), (int(size * 0.44), int(size * 0.49)), 0, 0, 360,
                1.0, -1)
    out = cv2.GaussianBlur(mask, (0, 0), size * 0.03)[..., None]
    out.setflags(write=False)
    return out


def _turn(img: Image, yaw: float) -> Image:
    """Approximate a head turn on a 2D portrait: the nose (middle band) moves further than
    the eyes and the face narrows, as it does when a real head turns."""
    if abs(yaw) < 1e-3:
        return img
    size = img.shape[1]
    xs = np.arange(size, dtype=np.float32)
    c = size / 2.0
    bump = np.exp(-(((xs - c) / (0.075 * size)) ** 2))
    squash = 1.0 - 0.18 * abs(yaw)
    map_x = c + (xs - c) / squash - yaw * 0.06 * size * bump
    map_x = np.tile(map_x, (img.shape[0], 1)).astype(np.float32)
    map_y = np.tile(np.arange(img.shape[0], dtype=np.float32)[:, None], (1, size))
    return cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def live_frame(key: str, pose: Pose | None = None, *, seed: int | None = 0,
               noise: float = 3.0) -> Image:
    """A BGR 640x480 camera frame showing ``key``'s face in ``pose``."""
    pose = pose or Pose()
    face = _turn(_live_base(resolve(key)), pose.yaw)
    size = int(round(300 * pose.scale))
    face = cv2.resize(face, (size, size), interpolation=cv2.INTER_LINEAR)
    if pose.roll:
        rot = cv2.getRotationMatrix2D((size / 2, size / 2), pose.roll, 1.0)
        face = cv2.warpAffine(face, rot, (size, size), borderMode=cv2.BORDER_REPLICATE)
    face_bgr = cv2.cvtColor(face, cv2.COLOR_RGB2BGR).astype(np.float32)
    face_bgr *= np.array([0.97, 1.0, 1.04], np.float32)  # warmer indoor light
    frame = _background().astype(np.float32)
    x0 = int(round(FRAME_W / 2 - size / 2 + pose.dx))
    y0 = int(round(FRAME_H / 2 - size / 2 + pose.dy - 10))
    fx0, fy0 = max(0, -x0), max(0, -y0)
    x0c, y0c = max(0, x0), max(0, y0)
    x1c, y1c = min(FRAME_W, x0 + size), min(FRAME_H, y0 + size)
    if x1c > x0c and y1c > y0c:
        patch = face_bgr[fy0:fy0 + (y1c - y0c), fx0:fx0 + (x1c - x0c)]
        alpha = _ellipse_mask(size)[fy0:fy0 + (y1c - y0c), fx0:fx0 + (x1c - x0c)]
        region = frame[y0c:y1c, x0c:x1c]
        frame[y0c:y1c, x0c:x1c] = region * (1.0 - alpha) + patch * alpha
    _add_noise(frame, seed, noise)
    return np.clip(frame, 0, 255).astype(np.uint8)


def empty_frame(*, seed: int | None = 0, noise: float = 3.0) -> Image:
    """A BGR 640x480 frame with nobody in front of the camera."""
    return _empty((seed or 0) % NOISE_BANK, noise).copy()
