"""The camera simulator (``sim://faces?holder=<key>``): frames of a demo holder's face.

A live person moves slightly all the time and acts out liveness challenges after a short
reaction time; ``photo:<key>`` is a printed photo held still, which cannot; ``None`` is
nobody in front of the camera. ``stall()`` stops the frames (camera gone) for fault tests.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from kiosk.demo import faces
from kiosk.demo.faces import Pose

_TARGETS = {"turn_left": Pose(yaw=-1.0), "turn_right": Pose(yaw=1.0),
            "come_closer": Pose(scale=1.35)}


class FaceSimulator:
    """Produces BGR frames of whoever is presented; thread-safe."""

    def __init__(self, holder: str | None = None, *, reaction_s: float = 0.25,
                 move_s: float = 0.4) -> None:
        self._lock = threading.Lock()
        self.reaction_s = reaction_s
        self.move_s = move_s
        self._presented: str | None = None
        self._photo = False
        self._challenge: str | None = None
        self._challenge_at = 0.0
        self._stalled = threading.Event()
        self._n = 0
        self._photo_frame: npt.NDArray[Any] | None = None
        self.present(holder)

    # -- controls -------------------------------------------------------------------------
    def present(self, who: str | None) -> None:
        """``key`` (live person), ``photo:<key>`` (a static printed photo) or None."""
        photo = who is not None and who.startswith("photo:")
        key = who.split(":", 1)[1] if photo and who else who
        if key is not None:
            key = faces.resolve(key)
        with self._lock:
            self._presented, self._photo = key, photo
            self._challenge = None
            self._photo_frame = faces.live_frame(key, Pose(), noise=0) if photo and key else None

    @property
    def presented(self) -> str | None:
        with self._lock:
            if self._presented is None:
                return None
            return f"photo:{self._presented}" if self._photo else self._presented

    def on_challenge(self, challenge: str | None) -> None:
        """The liveness checker's current challenge; a live person acts it out."""
        with self._lock:
            self._challenge = challenge
            self._challenge_at = time.monotonic()

    def stall(self, stalled: bool = True) -> None:
        if stalled:
            self._stalled.set()
        else:
            self._stalled.clear()

    @property
    def stalled(self) -> bool:
        return self._stalled.is_set()

    # -- frames ---------------------------------------------------------------------------
    def _pose(self, now: float) -> Pose:
        target = _TARGETS.get(self._challenge or "", Pose())
        progress = (now - self._challenge_at - self.reaction_s) / self.move_s
        k = min(1.0, max(0.0, progress)) if self._challenge else 0.0
        wobble = math.sin(self._n * 0.7)
        return Pose(yaw=k * target.yaw + 0.03 * wobble,
                    scale=1.0 + k * (target.scale - 1.0),
                    dx=2.0 * wobble, dy=1.5 * math.cos(self._n * 0.5))

    def frame(self) -> npt.NDArray[Any] | None:
        """The next frame, or None while stalled."""
        if self._stalled.is_set():
            return None
        with self._lock:
            self._n += 1
            n, key, photo = self._n, self._presented, self._photo_frame
            pose = self._pose(time.monotonic())
        if key is None:
            return faces.empty_frame(seed=n)
        if photo is not None:
            noise = np.random.default_rng(n).normal(0.0, 2.5, photo.shape)
            return np.clip(photo + noise, 0, 255).astype(np.uint8)
        return faces.live_frame(key, pose, seed=n)
