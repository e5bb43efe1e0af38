"""The camera simulator (``sim://faces?holder=<key>``): frames of a demo holder's face.

A live person (a textured 3D head, :mod:`hardware.sim.scene3d`) moves slightly all the time and
acts out liveness challenges after a short reaction time. ``ATTACK:KEY`` presents a
presentation attack with the person's photo (:data:`hardware.sim.faces.ATTACKS`):
``photo`` (a print held still), ``print`` (a flat print turned and moved closer as asked),
``fold`` (folded along the nose), ``curve`` (bent), ``screen`` (a phone screen), ``tilt`` (a
print tipped forward and back when asked to blink, the attack a blink cue must see through),
``replay`` (a video of the live person doing every challenge in turn, looped, on a screen);
the attacker acts out the challenges with the sheet (a sheet cannot blink). ``None`` is
nobody in front of the camera. The ``unplug`` fault stops the frames (camera gone).

Controlled like every simulator, through its control socket (:mod:`hardware.sim.control`)::

    {"op": "present", "who": KEY | "ATTACK:KEY" | null}
    {"op": "fault", "kind": "unplug"} | {"op": "fault", "kind": "none"}
    {"op": "status"}  -> {"presented": ..., "stalled": ..., "challenge": ...}
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy.typing as npt

from hardware.sim import faces
from hardware.sim.control import ControlError, ControlServer, Reply
from hardware.sim.faces import Pose
from hardware.sim.url import FAULTS, SimUrl

# the citizen's own left and right (Pose.yaw > 0: the nose to the frame's right, their left)
_TARGETS = {"turn_left": Pose(yaw=1.0), "turn_right": Pose(yaw=-1.0),
            "come_closer": Pose(scale=1.35)}
_CACHE = 48  # rendered frames kept (an idle person cycles through a few poses)


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
        self._attack: str | None = None
        self._rendered: OrderedDict[tuple[Any, ...], npt.NDArray[Any]] = OrderedDict()
        self._challenge: str | None = None
        self._challenge_at = 0.0
        self._presented_at = 0.0
        self._stalled = threading.Event()
        self._n = 0
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
        """``key`` (a live person), ``ATTACK:key`` (a presentation attack with their photo:
        :data:`~hardware.sim.faces.ATTACKS`) or None (nobody)."""
        attack: str | None = None
        key = who
        if who is not None and ":" in who and who.split(":", 1)[0] in faces.ATTACKS:
            attack, key = who.split(":", 1)
        if key is not None:
            key = faces.resolve(key)
            faces.scene(key, faces.surface_of(attack))  # build it now, not in the grab thread
        with self._lock:
            self._presented, self._attack = key, attack
            self._challenge = None
            self._presented_at = time.monotonic()
            self._rendered.clear()

    @property
    def presented(self) -> str | None:
        with self._lock:
            if self._presented is None:
                return None
            return f"{self._attack}:{self._presented}" if self._attack else self._presented

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
    def _acting(self, now: float) -> tuple[str | None, float]:
        """What the person acts out now, and when the move began (the challenge shown plus
        the reaction time; a replayed video: its script)."""
        if self._attack == "replay":
            action, since = faces.replayed(now - self._presented_at)
            return action, now - since
        return self._challenge, self._challenge_at + self.reaction_s

    def _pose(self, now: float) -> Pose:
        challenge, began = self._acting(now)
        target = _TARGETS.get(challenge or "", Pose())
        blink = faces.blink_shut(now - began) if challenge == "blink" else 0.0
        progress = (now - began) / self.move_s
        k = min(1.0, max(0.0, progress)) if challenge else 0.0
        k = round(k * 8) / 8  # a few steps per move, so frames can be cached
        phase = self._n % faces.NOISE_BANK  # the idle sway repeats with the noise: cached
        wobble = math.sin(phase * 2 * math.pi / faces.NOISE_BANK)
        if self._attack == "photo":  # held still: it cannot act anything out
            return Pose()
        if self._attack not in (None, "replay"):  # a sheet cannot blink: tilt tips it
            pitch, eyes = (-faces.TIP_DEG * blink if self._attack == "tilt" else 0.0), 0.0
        else:
            pitch, eyes = 0.0, blink
        return Pose(yaw=k * target.yaw + 0.03 * wobble, pitch=pitch, eyes=eyes,
                    scale=1.0 + k * (target.scale - 1.0),
                    dx=2.0 * wobble, dy=1.5 * math.cos(phase * 2 * math.pi / faces.NOISE_BANK))

    def frame(self) -> npt.NDArray[Any] | None:
        """The next frame, or None while stalled."""
        if self._stalled.is_set():
            return None
        with self._lock:
            self._n += 1
            n, key, attack = self._n, self._presented, self._attack
            pose = self._pose(time.monotonic())
        if key is None:
            return faces.empty_frame(seed=n)
        cache_key = (key, attack, pose, n % faces.NOISE_BANK)
        with self._lock:
            cached = self._rendered.get(cache_key)
            if cached is not None:
                self._rendered.move_to_end(cache_key)
                return cached.copy()
        if attack is None:
            frame = faces.live_frame(key, pose, seed=n)
        else:
            frame = faces.attack_frame(key, attack, pose, seed=n, noise=2.5)
        with self._lock:
            self._rendered[cache_key] = frame
            while len(self._rendered) > _CACHE:
                self._rendered.popitem(last=False)
        return frame.copy()
