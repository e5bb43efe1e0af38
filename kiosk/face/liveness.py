"""Liveness: a randomised challenge-response judged from 5-point landmarks across frames.

Each attempt draws two challenges (always at least one head turn, since a printed photo can
be moved closer but cannot turn its nose relative to its eyes), records a neutral baseline,
then watches the geometry: the yaw cue is the nose's horizontal offset from the eye midpoint
divided by the eye distance; "come closer" is the growth of the eye distance. The 68-point
model is not used (its training data licence excludes commercial use).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hardware.base import Deadline
from kiosk.face.config import FaceConfig
from kiosk.face.verify import FaceGateError, FaceVerifier

CHALLENGES = ("turn_left", "turn_right", "come_closer")
TURNS = ("turn_left", "turn_right")
YAW_DELTA = 0.07  # yaw cue change that counts as a turn (eye distances)
CLOSER_RATIO = 1.18  # eye distance growth that counts as "came closer"
BASELINE_FRAMES = 2


@dataclass(frozen=True)
class LivenessResult:
    passed: bool
    reason: str | None  # challenge_failed | no_face | multiple_faces | timeout | canceled
    challenges: tuple[str, ...]


def geometry(landmarks: npt.NDArray[np.float64]) -> tuple[float, float]:
    """(yaw cue, eye distance) from dlib's 5 points: 0-1 one eye, 2-3 the other, 4 nose."""
    eye_a = (landmarks[0] + landmarks[1]) / 2.0
    eye_b = (landmarks[2] + landmarks[3]) / 2.0
    iod = float(np.linalg.norm(eye_a - eye_b))
    mid = (eye_a + eye_b) / 2.0
    yaw = float((landmarks[4][0] - mid[0]) / iod) if iod > 0 else 0.0
    return yaw, iod


class _Ended(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LivenessChecker:
    """Runs up to ``1 + cfg.liveness_retries`` attempts of two random challenges each.

    ``on_challenge`` is told each challenge (and ``None`` at the end) so the UI can show and
    speak it; a simulated camera is told too (``Camera.on_challenge``) so it can act it out.
    """

    def __init__(self, cfg: FaceConfig | None = None, verifier: FaceVerifier | None = None,
                 *, rng: random.Random | None = None, challenge_s: float = 4.0) -> None:
        self.cfg = cfg or FaceConfig()
        self.verifier = verifier or FaceVerifier(self.cfg)
        self.rng = rng or random.SystemRandom()
        self.challenge_s = challenge_s

    def draw(self) -> tuple[str, ...]:
        first = self.rng.choice(TURNS)
        second = self.rng.choice([c for c in CHALLENGES if c != first])
        pair = [first, second]
        self.rng.shuffle(pair)
        return tuple(pair)

    def run(self, frames: Callable[[], npt.NDArray[Any] | None], deadline: Deadline,
            on_challenge: Callable[[str | None], None] | None = None) -> LivenessResult:
        tell = on_challenge or (lambda _c: None)
        done: list[str] = []
        reason: str | None = "challenge_failed"
        try:
            for _attempt in range(1 + self.cfg.liveness_retries):
                challenges = self.draw()
                try:
                    self._attempt(frames, deadline, tell, challenges, done)
                    return LivenessResult(True, None, tuple(done))
                except _Ended as end:
                    reason = end.reason
                    if reason in ("timeout", "canceled", "multiple_faces"):
                        break
            return LivenessResult(False, reason, tuple(done))
        finally:
            tell(None)

    # -- one attempt ----------------------------------------------------------------------
    def _measure(self, frames: Callable[[], npt.NDArray[Any] | None], deadline: Deadline,
                 until: float) -> tuple[float, float] | None:
        """Geometry of the next frame with exactly one usable face, or None by ``until``."""
        while time.monotonic() < until:
            if deadline.cancel.is_set():
                raise _Ended("canceled")
            if deadline.expired:
                raise _Ended("timeout")
            frame = frames()
            if frame is None:
                continue
            try:
                face = self.verifier.analyse(frame, bgr=True, encode=False)
            except FaceGateError as exc:
                if exc.gate == "multiple_faces":
                    raise _Ended("multiple_faces") from None
                continue
            result = geometry(face.landmarks)
            face.wipe()
            return result
        return None

    def _attempt(self, frames: Callable[[], npt.NDArray[Any] | None], deadline: Deadline,
                 tell: Callable[[str | None], None], challenges: tuple[str, ...],
                 done: list[str]) -> None:
        tell(None)
        base: list[tuple[float, float]] = []
        until = time.monotonic() + self.challenge_s
        while len(base) < BASELINE_FRAMES:
            g = self._measure(frames, deadline, until)
            if g is None:
                raise _Ended("no_face")
            base.append(g)
        yaw0 = statistics.median(g[0] for g in base)
        iod0 = statistics.median(g[1] for g in base)
        for challenge in challenges:
            tell(challenge)
            done.append(challenge)
            until = time.monotonic() + self.challenge_s
            while True:
                g = self._measure(frames, deadline, until)
                if g is None:
                    raise _Ended("challenge_failed")
                if _satisfied(challenge, g, yaw0, iod0):
                    break


def _satisfied(challenge: str, g: tuple[float, float], yaw0: float, iod0: float) -> bool:
    yaw, iod = g
    if challenge == "turn_left":
        return yaw - yaw0 <= -YAW_DELTA
    if challenge == "turn_right":
        return yaw - yaw0 >= YAW_DELTA
    return iod0 > 0 and iod / iod0 >= CLOSER_RATIO
