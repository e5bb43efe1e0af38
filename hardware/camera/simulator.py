"""The camera simulator (``sim://faces?holder=<key>``): frames of a demo holder's face.

A live person moves slightly all the time and acts out liveness challenges after a short
reaction time; ``photo:<key>`` is a printed photo held still, which cannot; ``None`` is
nobody in front of the camera. The ``unplug`` fault stops the frames (camera gone).

Controlled like every simulator, through its control socket (:mod:`hardware.sim.control`)::

    {"op": "present", "who": KEY | "photo:KEY" | null}
    {"op": "fault", "kind": "unplug"} | {"op": "fault", "kind": "none"}
    {"op": "status"}  -> {"presented": ..., "stalled": ..., "challenge": ...}
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from hardware.sim import faces
from hardware.sim.control import ControlError, ControlServer, Reply
from hardware.sim.faces import Pose
from hardware.sim.url import FAULTS, SimUrl

_TARGETS = {"turn_left": Pose(yaw=-1.0), "turn_right": Pose(yaw=1.0),
            "come_closer": Pose(scale=1.35)}


class FaceSimulator:
    """Produces BGR frames of whoever is presented; thread-safe."""

    @classmethod
    def from_url(cls, url: SimUrl, *, control_path: str | None) -> FaceSimulator:
        """Start the simulator ``sim://faces?holder=KEY&fault=unplug`` describes; raises
        :class:`~hardware.sim.faces.UnknownFace` for a holder that is nobody known."""
        sim = cls(url["holder"], control_path=control_path)
        if url["fault"] == "unplug":
            sim.stall()
        return sim.start()

    def __init__(self, holder: str | None = None, *, reaction_s: float = 0.25,
                 move_s: float = 0.4, control_path: str | None = None) -> None:
        self.control_path = control_path
        self._control: ControlServer | None = None
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

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> FaceSimulator:
        if self.control_path and self._control is None:
            self._control = ControlServer(self.control_path, self.control, name="camera-sim")
            self._control.start()
        return self

    def close(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None

    def control(self, op: str, request: Mapping[str, Any]) -> Reply:
        """One control request (see the module doc) -> its reply fields."""
        if op == "present":
            who = request.get("who")
            try:
                self.present(None if who is None else str(who))
            except faces.UnknownFace:
                raise ControlError("unknown_face", f"nobody known as {who!r}") from None
            return {"presented": self.presented}
        if op == "fault":
            kind = str(request["kind"])
            if kind not in (*FAULTS["camera"], "none"):
                raise ControlError("unknown_fault", f"camera faults: {', '.join(FAULTS['camera'])}")
            self.stall(kind == "unplug")
            return {}
        if op == "status":
            with self._lock:
                challenge = self._challenge
            return {"presented": self.presented, "stalled": self.stalled,
                    "challenge": challenge}
        raise ControlError("unknown_op", f"camera ops: present, fault, status (not {op!r})")

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
