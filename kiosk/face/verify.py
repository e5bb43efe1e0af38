"""1:1 face verification (人证核验): quality gates, one encoding per frame, a decision over
several frames within a deadline. Computation over frames from any
:class:`~hardware.roles.Camera` (or image files): not a device, so not in ``hardware/``.

Pipeline per frame (see README.md for the measured cost): grey + downscale so that the
smallest accepted face is about 80 px -> dlib HOG detector without upsampling -> gates
(exactly one face, size, exposure, sharpness) -> 5-point landmarks on the full frame -> one
ResNet encoding of the chosen face (``num_jitters=1``). The plain library path runs the HOG
detector twice on a 2x upsampled frame; that is where the time goes.
"""

from __future__ import annotations

import statistics
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from hardware.base import Deadline, DeviceError, DeviceErrorCode
from hardware.memory import wipe
from kiosk.face.config import FaceConfig

Image = npt.NDArray[Any]  # uint8 images (cv2 returns loosely typed arrays)
Encoding = npt.NDArray[np.float64]

__all__ = ["BadImage", "FaceAnalysis", "FaceGateError", "FaceVerifier", "decode_image",
           "encoded", "wipe"]

REFERENCE_UNUSABLE = "reference_unusable"  # no usable face in the reference photo
GATE_CODES = ("no_face", "multiple_faces", "too_small", "blurred", "too_dark", "too_bright")
DETECT_FACE_PX = 80.0  # the HOG window: faces this size and up are found without upsampling


class FaceGateError(DeviceError):
    """A frame failed a quality gate; ``detail``/``gate`` is one of :data:`GATE_CODES`."""

    code = DeviceErrorCode.INVALID_DATA

    def __init__(self, gate: str, message: str | None = None, *, faces: int = 0) -> None:
        super().__init__(message or gate.replace("_", " "), detail=gate)
        self.gate = gate
        self.faces = faces


class BadImage(DeviceError):
    """Image bytes that do not decode (no personal data in the message)."""

    code = DeviceErrorCode.INVALID_DATA


@dataclass
class FaceAnalysis:
    """One frame's chosen face: box (top, right, bottom, left), 5 landmarks, quality."""

    box: tuple[int, int, int, int]
    landmarks: npt.NDArray[np.float64]  # 5x2 (x, y): dlib 5-point order
    faces: int
    sharpness: float
    brightness: float
    encoding: Encoding | None = None

    @property
    def size(self) -> int:
        top, right, bottom, left = self.box
        return min(right - left, bottom - top)

    def wipe(self) -> None:
        wipe(self.encoding)
        self.landmarks.fill(0)


@dataclass(frozen=True)
class CompareResult:
    match: bool
    distance: float
    threshold: float
    faces_ref: int
    faces_live: int
    elapsed_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {"match": self.match, "distance": round(self.distance, 4),
                "threshold": self.threshold, "faces_ref": self.faces_ref,
                "faces_live": self.faces_live, "elapsed_ms": round(self.elapsed_ms, 1)}


@dataclass(frozen=True)
class VerifyResult:
    """``distance`` is the fused distance that was compared with the threshold."""

    match: bool
    distance: float | None
    reason: str | None
    frames_used: int
    distances: tuple[float, ...] = field(default=(), repr=False)


def encoded(analysis: FaceAnalysis) -> Encoding:
    """The encoding of an analysis made with ``encode=True`` (an error, not an assert, if a
    caller passed one without)."""
    if analysis.encoding is None:
        raise FaceGateError("no_face", "the face was not encoded")
    return analysis.encoding


class _Models:
    """dlib models, loaded once per process (about 100 MB; thread-safe use under a lock)."""

    _lock = threading.Lock()
    _inst: _Models | None = None

    def __init__(self) -> None:
        import dlib
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import face_recognition_models as frm
        self.dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.shape5 = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self.encoder = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
        self.run_lock = threading.Lock()

    @classmethod
    def get(cls) -> _Models:
        with cls._lock:
            if cls._inst is None:
                cls._inst = _Models()
            return cls._inst


def decode_image(data: bytes | bytearray) -> Image:
    """JPEG/PNG bytes -> RGB array (in memory only)."""
    buf = np.frombuffer(bytes(data), np.uint8)
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if bgr is None:
        raise BadImage("image does not decode", detail="bad_image")
    rgb: Image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    wipe(bgr)
    return rgb


class FaceVerifier:
    """Verifies live frames against a reference photo with the thresholds of FaceConfig.

    Frames are RGB unless ``bgr=True`` is passed (camera frames are BGR).
    """

    def __init__(self, cfg: FaceConfig | None = None) -> None:
        self.cfg = cfg or FaceConfig()
        self._models = _Models.get()

    # -- one frame ------------------------------------------------------------------------
    def detect(self, rgb: Image) -> tuple[list[tuple[int, int, int, int]], Image]:
        """Face boxes (top, right, bottom, left) at full resolution, and the grey frame."""
        gray: Image = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        h, w = gray.shape
        scale = min(1.0, DETECT_FACE_PX / max(20.0, 0.8 * self.cfg.min_face_px))
        small = gray
        if scale < 0.99:
            small = cv2.resize(gray, (max(1, int(w * scale)), max(1, int(h * scale))),
                               interpolation=cv2.INTER_AREA)
        elif min(h, w) < 200:  # a small photo (a card chip image): look closer
            scale = 2.0
            small = cv2.resize(gray, (w * 2, h * 2), interpolation=cv2.INTER_LINEAR)
        with self._models.run_lock:
            rects = self._models.detector(small, 0)
        boxes = []
        for r in rects:
            top = max(0, int(r.top() / scale))
            left = max(0, int(r.left() / scale))
            bottom = min(h, int(r.bottom() / scale))
            right = min(w, int(r.right() / scale))
            boxes.append((top, right, bottom, left))
        if small is not gray:
            wipe(small)
        return boxes, gray

    def analyse(self, image: Image, *, bgr: bool = False, encode: bool = True,
                reference: bool = False, jitters: int = 1) -> FaceAnalysis:
        """Gate one image and encode its only face; raises :class:`FaceGateError`."""
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if bgr else image
        try:
            boxes, gray = self.detect(rgb)
            if reference and not boxes:  # a small or soft reference: look closer still
                boxes = self._detect_upsampled(gray)
            try:
                return self._gate_and_encode(rgb, gray, boxes, encode, reference, jitters)
            finally:
                wipe(gray)
        finally:
            if rgb is not image:
                wipe(rgb)

    def _detect_upsampled(self, gray: Image) -> list[tuple[int, int, int, int]]:
        """HOG with dlib's own upsampling (twice for a chip-sized photo)."""
        times = 2 if min(gray.shape[:2]) < 200 else 1
        with self._models.run_lock:
            rects = self._models.detector(gray, times)
        h, w = gray.shape[:2]
        return [(max(0, r.top()), min(w, r.right()), min(h, r.bottom()), max(0, r.left()))
                for r in rects]

    def _gate_and_encode(self, rgb: Image, gray: Image, boxes: list[tuple[int, int, int, int]],
                         encode: bool, reference: bool, jitters: int = 1) -> FaceAnalysis:
        cfg = self.cfg
        min_px = 0 if reference else cfg.min_face_px
        if not boxes:
            raise FaceGateError("no_face", faces=0)
        sizes = [min(r - le, b - t) for (t, r, b, le) in boxes]
        present = [s for s in sizes if s >= 0.6 * min_px]
        if len(present) > 1 or (reference and len(boxes) > 1):
            raise FaceGateError("multiple_faces", faces=len(boxes))
        best = int(np.argmax(sizes))
        box = boxes[best]
        if sizes[best] < min_px:
            raise FaceGateError("too_small", faces=len(boxes))
        top, right, bottom, left = box
        crop = gray[top:bottom, left:right]
        brightness = float(crop.mean()) if crop.size else 0.0
        if brightness < cfg.min_brightness:
            raise FaceGateError("too_dark", faces=len(boxes))
        if brightness > cfg.max_brightness:
            raise FaceGateError("too_bright", faces=len(boxes))
        sharpness = laplacian_sharpness(crop)
        if not reference and sharpness < cfg.min_sharpness:
            raise FaceGateError("blurred", faces=len(boxes))
        m = self._models
        rect = m.dlib.rectangle(left, top, right, bottom)
        with m.run_lock:
            shape = m.shape5(rgb, rect)
            points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
            encoding = None
            if encode:
                # the aligned 150x150 chip first: the same descriptor, a little faster than
                # letting dlib cut it from the whole frame
                chip = m.dlib.get_face_chip(rgb, shape, 150, 0.25)
                encoding = np.array(m.encoder.compute_face_descriptor(chip, jitters))
                wipe(chip)
        return FaceAnalysis(box, points, len(boxes), sharpness, brightness, encoding)

    def encode_reference(self, reference_jpeg: bytes | bytearray) -> FaceAnalysis:
        """Decode and encode the reference photo (one face, no size/sharpness gate; detected
        with upsampling when small; the encoding averaged over ``cfg.reference_jitters``)."""
        rgb = decode_image(reference_jpeg)
        try:
            return self.analyse(rgb, reference=True, jitters=self.cfg.reference_jitters)
        finally:
            wipe(rgb)

    @staticmethod
    def distance(a: Encoding, b: Encoding) -> float:
        return float(np.linalg.norm(a - b))

    # -- commands -------------------------------------------------------------------------
    def compare_images(self, ref_rgb: Image, live_rgb: Image) -> CompareResult:
        """Compare two RGB images (the diag command); raises :class:`FaceGateError`."""
        t0 = time.perf_counter()
        ref = self.analyse(ref_rgb, reference=True)
        live = self.analyse(live_rgb)
        d = self.distance(encoded(ref), encoded(live))
        elapsed = (time.perf_counter() - t0) * 1000.0
        ref.wipe()
        live.wipe()
        return CompareResult(d <= self.cfg.threshold, d, self.cfg.threshold, ref.faces,
                             live.faces, elapsed)

    def reference(self, reference_jpeg: bytes | bytearray) -> FaceAnalysis | str:
        """The encoded reference, or :data:`REFERENCE_UNUSABLE` when it holds no usable face
        (the citizen is sent to the path without face)."""
        try:
            return self.encode_reference(reference_jpeg)
        except DeviceError:
            return REFERENCE_UNUSABLE

    def verify(self, frames: Callable[[], Image | None], reference_jpeg: bytes | bytearray,
               deadline: Deadline, on_progress: Callable[[str], None] | None = None, *,
               bgr: bool = True, encodings: list[Encoding] | None = None) -> VerifyResult:
        """Take frames until ``cfg.frames`` of them are encoded (``encodings`` already taken
        count), then decide on their fusion (``cfg.fusion``) against ``cfg.threshold``.

        A frame that fails a quality gate is not a rejection: its gate goes to
        ``on_progress`` (come closer, face the light, hold still) and the next frame is
        taken, until the deadline. ``frames()`` returns a BGR frame or None.
        """
        ref = self.reference(reference_jpeg)
        if isinstance(ref, str):
            return VerifyResult(False, None, ref, 0)
        try:
            return self.decide(frames, encoded(ref), deadline, on_progress, bgr=bgr,
                               encodings=encodings)
        finally:
            ref.wipe()

    def decide(self, frames: Callable[[], Image | None], ref_encoding: Encoding,
               deadline: Deadline, on_progress: Callable[[str], None] | None = None, *,
               bgr: bool = True, encodings: list[Encoding] | None = None) -> VerifyResult:
        """The decision of :meth:`verify` for an encoded reference."""
        progress = on_progress or (lambda _s: None)
        lives = list(encodings or [])
        reason: str | None = "timeout"
        try:
            while len(lives) < self.cfg.frames:
                if deadline.cancel.is_set():
                    return self._result(False, ref_encoding, lives, "canceled")
                if deadline.expired:
                    return self._result(False, ref_encoding, lives, reason)
                frame = frames()
                if frame is None:
                    continue
                try:
                    live = self.analyse(frame, bgr=bgr)
                except FaceGateError as exc:
                    reason = exc.gate
                    progress(exc.gate)
                    continue
                lives.append(encoded(live))
                live.landmarks.fill(0)
                progress("face_ok")
                if len(lives) >= self.cfg.frames and not consistent(lives):
                    for stale in lives[:-1]:  # someone else stepped in: start again
                        wipe(stale)
                    del lives[:-1]
            d = fuse(ref_encoding, lives, self.cfg.fusion)
            ok = d <= self.cfg.threshold
            return self._result(ok, ref_encoding, lives, None if ok else "mismatch", d)
        finally:
            for lv in lives:
                wipe(lv)

    @staticmethod
    def _result(match: bool, ref: Encoding, lives: list[Encoding], reason: str | None,
                fused: float | None = None) -> VerifyResult:
        dists = tuple(float(np.linalg.norm(lv - ref)) for lv in lives)
        return VerifyResult(match, fused, reason, len(lives), dists)


SAME_PERSON = 0.4  # the largest distance between two frames of one session's face


def consistent(lives: list[Encoding]) -> bool:
    """Whether the live encodings are all of one face (no one else stepped in)."""
    return all(float(np.linalg.norm(a - b)) <= SAME_PERSON
               for i, a in enumerate(lives) for b in lives[i + 1:])


def fuse(ref: Encoding, lives: list[Encoding], rule: str) -> float:
    """The distance of several live encodings to the reference under a fusion rule:
    ``mean`` (distance to the mean encoding), ``all`` (the largest: every frame must match),
    ``best`` (the smallest), ``median``."""
    if not lives:
        raise ValueError("no live encodings")
    if rule == "mean":
        return float(np.linalg.norm(np.mean(np.array(lives), axis=0) - ref))
    d = [float(np.linalg.norm(lv - ref)) for lv in lives]
    if rule == "all":
        return max(d)
    if rule == "best":
        return min(d)
    if rule == "median":
        return float(statistics.median(d))
    raise ValueError(f"unknown fusion rule {rule!r}")


def laplacian_sharpness(gray_crop: Image, width: int = 96) -> float:
    """Variance of the Laplacian of the face crop scaled to a fixed width (scale-free)."""
    if gray_crop.size == 0:
        return 0.0
    h, w = gray_crop.shape[:2]
    norm = cv2.resize(gray_crop, (width, max(1, int(h * width / max(1, w)))),
                      interpolation=cv2.INTER_AREA)
    value = float(cv2.Laplacian(norm, cv2.CV_64F).var())
    wipe(norm)
    return value
