"""Demo faces for the demo citizens (``config/demo/citizens.yaml``, field ``face``): the face
renderer of the simulator kit. It is imported only by the camera simulator (``sim://faces``),
the reference platform's demo seed (reference photos) and tests and benchmarks, never by a
production camera.

Everything is generated in memory from scikit-image's bundled data (no downloads, nothing
written to disk): ``astronaut`` is the 512x512 colour portrait, ``lfw-1`` .. ``lfw-4`` are faces
from ``lfw_subset`` (25x25 grayscale, upscaled; see ``kiosk/face/README.md`` for what that
means for accuracy). :func:`reference_jpeg` is the holder's reference photo as the platform would
hold it; :func:`live_frame` is a 640x480 BGR camera frame of the same face as a textured 3D head
(:mod:`hardware.sim.scene3d`: turned with depth, self-occlusion and parallax), differently lit,
so a verification compares two different images of one face; :func:`attack_frame` shows the
photo as a presentation attack (:data:`ATTACKS`: flat, folded, curved, on a screen).
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
    camera's left), scale 1.0 = a normal distance, offsets in pixels, roll and pitch (> 0:
    the top toward the camera) in degrees, eyes 0 open .. 1 shut."""

    yaw: float = 0.0
    scale: float = 1.0
    dx: float = 0.0
    dy: float = 0.0
    roll: float = 0.0
    pitch: float = 0.0
    eyes: float = 0.0


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


ATTACKS: dict[str, str] = {
    "photo": "a printed photo held still",
    "print": "a printed photo, turned and moved closer as the challenge asks",
    "fold": "a printed photo folded along the nose, turned toward the side asked",
    "curve": "a printed photo bent around a vertical axis, turned as asked",
    "screen": "the photo on a phone screen, turned and moved as asked",
    "tilt": "a printed photo, tipped forward and back when asked to blink (and turned)",
    "replay": "a video of the person doing every challenge in turn, looped, on a screen",
}
# the replayed video: (action, seconds), looped; what an attacker who filmed the citizen
# doing every challenge would show (it does not listen to the challenges)
Script = tuple[tuple[str | None, float], ...]
REPLAY_SCRIPT: Script = (
    ("turn_left", 1.1), (None, 0.5), ("turn_right", 1.1), (None, 0.5), ("blink", 0.9),
    (None, 0.5), ("come_closer", 1.1), (None, 0.5))
# the same with long rests: still long enough for any pause the kiosk draws
REPLAY_SLOW: Script = tuple((a, d if a else 2.5) for a, d in REPLAY_SCRIPT)


# a live person's blink, answering the challenge: shutting, shut, opening (seconds), again
# every BLINK_EVERY_S while it is shown (as people do); the tilt attacker tips its sheet
BLINK_S = (0.08, 0.25, 0.1)
BLINK_EVERY_S = 1.2
TIP_DEG = 50.0


def blink_shut(t: float) -> float:
    """How shut the eyes are ``t`` seconds into answering a blink challenge (0 open .. 1
    shut, in quarter steps so that frames can be cached)."""
    if t <= 0:
        return 0.0
    t %= BLINK_EVERY_S
    shutting, shut, opening = BLINK_S
    if t >= shutting + shut + opening:
        return 0.0
    return round(min(t / shutting, 1.0, (shutting + shut + opening - t) / opening) * 4) / 4


def replayed(t: float, script: Script = REPLAY_SCRIPT) -> tuple[str | None, float]:
    """The replayed video's action at ``t`` seconds and how long it has been going."""
    t %= sum(d for _a, d in script)
    for action, duration in script:
        if t < duration:
            return action, t
        t -= duration
    return None, 0.0
_SURFACE = {"photo": "flat", "print": "flat", "fold": "fold", "curve": "curve",
            "screen": "screen", "tilt": "flat", "replay": "head"}
YAW_DEG = 28.0  # Pose.yaw 1.0 in degrees
DISTANCE_M = 0.5  # Pose.scale 1.0: the eyes half a metre from the camera


Marks = tuple[tuple[float, float], tuple[float, float], tuple[float, float]]
# (eye, eye, nose) of the demo portraits, as dlib's 5-point model finds them (kept here so the
# simulator starts without loading dlib's models; tests/hardware/sim check them)
DEMO_MARKS: dict[str, Marks] = {
    "astronaut": ((157.5, 99.5), (109.5, 97.0), (133.0, 133.0)),
    "lfw-1": ((132.5, 107.5), (81.5, 105.5), (101.0, 147.0)),
    "lfw-2": ((144.5, 109.0), (87.5, 108.0), (109.0, 146.0)),
    "lfw-3": ((139.5, 110.5), (83.5, 110.5), (114.0, 153.0)),
    "lfw-4": ((145.0, 99.5), (90.5, 99.5), (120.0, 132.0)),
}


@functools.cache
def landmarks(key: str) -> Marks:
    """(eye, eye, nose) of the portrait (found once by dlib's detector and 5-point model
    for faces other than the demo ones)."""
    key = resolve(key)
    if key in DEMO_MARKS:
        return DEMO_MARKS[key]
    return detect_landmarks(key)


def detect_landmarks(key: str) -> Marks:
    """(eye, eye, nose) of the portrait by dlib's detector and 5-point model."""
    import warnings

    import dlib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import face_recognition_models as frm
    img = np.ascontiguousarray(portrait(key))
    rects = dlib.get_frontal_face_detector()(img, 1)
    if not rects:
        raise UnknownFace(key)
    shape = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())(img, rects[0])
    p = [(float(q.x), float(q.y)) for q in shape.parts()]
    eye_a = ((p[0][0] + p[1][0]) / 2, (p[0][1] + p[1][1]) / 2)
    eye_b = ((p[2][0] + p[3][0]) / 2, (p[2][1] + p[3][1]) / 2)
    return eye_a, eye_b, p[4]


@functools.cache
def scene(key: str, surface: str = "head") -> Any:
    """The 3D scene of ``key``'s portrait on ``surface`` (:mod:`hardware.sim.scene3d`)."""
    from hardware.sim import scene3d

    eye_a, eye_b, nose = landmarks(key)
    return scene3d.Scene(np.asarray(_live_base(key)), (eye_a, eye_b), nose, surface)


def surface_of(attack: str | None) -> str:
    """The :mod:`~hardware.sim.scene3d` surface of a live person (None) or an attack."""
    return "head" if attack is None else _SURFACE[attack]


def pose3(pose: Pose, *, yaw_deg: float = YAW_DEG) -> Any:
    """The 3D pose of a simulator pose (yaw 1.0 = ``yaw_deg``, scale 1.0 = half a metre)."""
    from hardware.sim.scene3d import FOCAL, Pose3

    distance = DISTANCE_M / max(0.2, pose.scale)
    # Pose.yaw > 0 moves the nose to the frame's right (scene3d's yaw turns it left)
    return Pose3(yaw=-pose.yaw * yaw_deg, pitch=pose.pitch, roll=pose.roll, distance=distance,
                 x=pose.dx * distance / FOCAL, y=(pose.dy - 10) * distance / FOCAL)


def _finish(rgb: npt.NDArray[np.float32], seed: int | None, noise: float) -> Image:
    frame = rgb[..., ::-1] * np.array([0.97, 1.0, 1.04], np.float32)  # BGR, warmer light
    frame = np.ascontiguousarray(frame)
    _add_noise(frame, seed, noise)
    return np.clip(frame, 0, 255).astype(np.uint8)


def live_frame(key: str, pose: Pose | None = None, *, seed: int | None = 0,
               noise: float = 3.0) -> Image:
    """A BGR 640x480 camera frame showing ``key``'s head (a textured 3D face) in ``pose``."""
    return _finish(_head(key, pose or Pose()), seed, noise)


def _head(key: str, pose: Pose) -> npt.NDArray[np.float32]:
    """``key``'s live head in ``pose`` (its eyes as shut as ``pose.eyes``), float32 RGB."""
    from hardware.sim import scene3d

    head = scene(resolve(key)).expressed(eyes_closed=pose.eyes)
    out: npt.NDArray[np.float32] = head.render(pose3(pose), scene3d.room())
    return out


def attack_frame(key: str, attack: str, pose: Pose | None = None, *, seed: int | None = 0,
                 noise: float = 3.0) -> Image:
    """A BGR 640x480 frame of a presentation attack (:data:`ATTACKS`) with ``key``'s photo."""
    from hardware.sim import scene3d

    if attack not in ATTACKS:
        raise ValueError(f"attack: one of {', '.join(ATTACKS)}")
    pose = pose or Pose()
    if attack == "replay":  # the live head, filmed, on a screen
        return _finish(scene3d.on_screen(_head(key, pose)), seed, noise)
    rgb = scene(resolve(key), _SURFACE[attack]).render(pose3(pose, yaw_deg=35.0),
                                                        scene3d.room())
    return _finish(rgb, seed, noise)


def empty_frame(*, seed: int | None = 0, noise: float = 3.0) -> Image:
    """A BGR 640x480 frame with nobody in front of the camera."""
    return _empty((seed or 0) % NOISE_BANK, noise).copy()
