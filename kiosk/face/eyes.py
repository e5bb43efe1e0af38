"""How open the eyes are, from the face mesh and the eye contour models: the blink cue.

Per frame (about 5 ms on one core): the face, cut upright by dlib's eyes and scaled as
MediaPipe's face landmark model expects (1.5x the detector's box, 192x192) -> 468 points ->
each eye cut around its corners (2.3x the eye's width, 64x64; the right eye mirrored, the
model knows left eyes) -> 71 eye and brow points, of which 16 are the lid contour.

:attr:`EyeState.openness` is the lid gap (three vertical chords of the contour, both eyes)
divided by the distance from the eye line down to the base of the nose: both are vertical, so
a photo tipped forward or back (which flattens the eyes of a picture the way a blink seems
to) changes neither their ratio; a head turn is horizontal and leaves it alone too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from kiosk.face.meshmodels import model_path

Image = npt.NDArray[Any]
Points = npt.NDArray[np.float64]

MESH_SIZE = 192
EYE_SIZE = 64
MESH_BOX = 1.5  # the crop: the detector's box scaled, as MediaPipe's face landmark ROI
EYE_BOX = 2.3  # the eye crop: the corners' distance scaled, as MediaPipe's iris ROI
# face mesh indices: eye corners (outer, inner) of the image's left and right eye, nose base
LEFT_CORNERS, RIGHT_CORNERS, NOSE_BASE = (33, 133), (362, 263), 2
# eye contour model: 0 and 8 are the corners, 1..7 the lower lid, 9..15 the upper lid
CHORDS = ((3, 12), (4, 13), (5, 14))


@dataclass(frozen=True)
class EyeState:
    """One frame's eyes: ``openness`` (lid gap / eye-to-nose height, both eyes) and the
    face's ``proportion`` (eye-to-nose height / the outer eye corners' distance: a blink
    leaves it, a sheet tipped forward or back flattens it)."""

    openness: float
    proportion: float


def _warp(frame: Image, centre: Points, angle_deg: float, scale: float, size: int
          ) -> tuple[Image, npt.NDArray[np.float64]]:
    m: npt.NDArray[np.float64] = np.asarray(
        cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle_deg, scale),
        np.float64)
    m[0, 2] += size / 2 - centre[0]
    m[1, 2] += size / 2 - centre[1]
    crop = cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    return crop, m


def _back(points: Points, m: npt.NDArray[np.float64]) -> Points:
    inv = cv2.invertAffineTransform(m)
    out: Points = points @ inv[:, :2].T + inv[:, 2]
    return out


def _tensor(crop_bgr: Image) -> Image:
    rgb = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None])


class EyeModel:
    """The two landmark models, loaded once; :meth:`measure` one frame. Thread-safe (one
    inference at a time: an OpenCV network is not re-entrant)."""

    def __init__(self, models: Path | None = None) -> None:
        self._mesh = cv2.dnn.readNetFromTFLite(str(model_path("face_landmark.tflite", models)))
        self._eye = cv2.dnn.readNetFromTFLite(str(model_path("iris_landmark.tflite", models)))
        self._lock = threading.Lock()

    def mesh(self, frame_bgr: Image, box: tuple[int, int, int, int], landmarks5: Points
             ) -> Points:
        """The 468 face mesh points (x, y in the frame) of the face in ``box``."""
        eye_a = (landmarks5[0] + landmarks5[1]) / 2.0
        eye_b = (landmarks5[2] + landmarks5[3]) / 2.0
        left, right = (eye_a, eye_b) if eye_a[0] <= eye_b[0] else (eye_b, eye_a)
        angle = float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))
        top, r, bottom, lft = box
        centre = np.array([(lft + r) / 2.0, (top + bottom) / 2.0])
        side = max(r - lft, bottom - top) * MESH_BOX
        crop, m = _warp(frame_bgr, centre, angle, MESH_SIZE / max(side, 1.0), MESH_SIZE)
        tensor = _tensor(crop)
        with self._lock:
            self._mesh.setInput(tensor)
            out = np.asarray(self._mesh.forward(), np.float64).reshape(468, 3)
        crop.fill(0)  # the face, cut out: wiped as every face picture is
        tensor.fill(0)
        return _back(out[:, :2], m)

    def lids(self, frame_bgr: Image, corners: tuple[Points, Points], *, mirror: bool
             ) -> Points:
        """The 16 lid contour points (frame coordinates) of the eye between ``corners``."""
        a, b = corners
        centre = (a + b) / 2.0
        width = float(np.linalg.norm(b - a)) * EYE_BOX
        angle = float(np.degrees(np.arctan2(b[1] - a[1], b[0] - a[0])))
        crop, m = _warp(frame_bgr, centre, angle, EYE_SIZE / max(width, 1.0), EYE_SIZE)
        x = crop[:, ::-1] if mirror else crop
        tensor = _tensor(x)
        with self._lock:
            self._eye.setInput(tensor)
            out = np.asarray(self._eye.forward("output_eyes_contours_and_brows"),
                             np.float64).reshape(71, 3)[:16, :2]
        crop.fill(0)
        tensor.fill(0)
        if mirror:
            out[:, 0] = EYE_SIZE - out[:, 0]
        return _back(out, m)

    def measure(self, frame_bgr: Image, box: tuple[int, int, int, int],
                landmarks5: Points) -> EyeState:
        """How open the eyes of the face in ``box`` are."""
        p = self.mesh(frame_bgr, box, landmarks5)
        gaps: list[float] = []
        for (i, j), mirror in ((LEFT_CORNERS, False), (RIGHT_CORNERS, True)):
            lid = self.lids(frame_bgr, (p[i], p[j]), mirror=mirror)  # image left to right
            gaps.append(float(np.mean([np.linalg.norm(lid[u] - lid[v]) for u, v in CHORDS])))
        eye_mid = (p[LEFT_CORNERS[0]] + p[LEFT_CORNERS[1]] + p[RIGHT_CORNERS[0]]
                   + p[RIGHT_CORNERS[1]]) / 4.0
        axis = p[RIGHT_CORNERS[1]] - p[LEFT_CORNERS[0]]
        span = float(np.linalg.norm(axis)) or 1.0
        axis /= span
        down = np.array([-axis[1], axis[0]])
        height = abs(float((p[NOSE_BASE] - eye_mid) @ down)) or 1.0
        return EyeState(float(np.mean(gaps)) / height, height / span)
