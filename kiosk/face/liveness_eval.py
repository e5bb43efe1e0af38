"""Liveness evaluation: live and attack sequences made from real photos, APCER and BPCER.

An :class:`Actor` stands in front of a virtual camera (15 frames a second of virtual time,
so the figures do not depend on this machine's load): a real photo as a textured 3D head
(live) or as one of :data:`ATTACKS` (a print, folded, curved, tipped, on a screen) that an
attacker turns and moves as each challenge asks, or a video of the live head replayed on a
screen (``replay``: every challenge acted in turn, looped, from a random point; it does not
listen). ISO/IEC 30107-3 terms: APCER is the share of attack
presentations accepted (per attack type), BPCER the share of live presentations refused.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from hardware.base import Deadline
from hardware.sim import faces, scene3d
from hardware.sim.scene3d import Image
from kiosk.face.config import FaceConfig
from kiosk.face.eyes import EyeModel
from kiosk.face.liveness import LivenessChecker, LivenessResult
from kiosk.face.verify import FaceVerifier, _Models

FPS = 15.0
# attack type -> (surface, fold angle, what the attacker does with the sheet)
ATTACKS: dict[str, tuple[str, float, str]] = {
    "photo_still": ("flat", 0.0, "still"),
    "flat": ("flat", 0.0, "acts"),
    "fold_20": ("fold", 20.0, "acts"),
    "fold_35": ("fold", 35.0, "acts"),
    "fold_50": ("fold", 50.0, "acts"),
    "curved": ("curve", 0.0, "acts"),
    "closer_farther": ("flat", 0.0, "depth"),
    "screen": ("screen", 0.0, "acts"),
    "tilt": ("flat", 0.0, "tilt"),  # tipped forward/back when asked to blink: eyes flatten
    "replay": ("head", 0.0, "replay"),  # a video of the live person on a screen, see below
    "replay_slow": ("head", 0.0, "replay"),  # the same with long rests (faces.REPLAY_SLOW)
}
# the replayed videos' scripts (hardware.sim.faces), by attack type
REPLAYS: dict[str, faces.Script] = {"replay": faces.REPLAY_SCRIPT,
                                    "replay_slow": faces.REPLAY_SLOW}


class VirtualClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@dataclass
class Actor:
    """Frames of one presentation; follows the challenges it is told."""

    scene: scene3d.Scene
    clock: VirtualClock
    rng: np.random.Generator
    behaviour: str = "live"  # live | still | acts | depth | tilt | replay
    turn_deg: float = 25.0
    reaction_s: float = 0.3
    move_s: float = 0.4
    distance: float = 0.5
    challenge: str | None = None
    told_at: float = 0.0
    phase: float = 0.0  # where the replayed video starts (seconds into its script)
    script: faces.Script = faces.REPLAY_SCRIPT

    def on_challenge(self, challenge: str | None) -> None:
        if self.behaviour == "replay":  # a video does not listen
            return
        self.challenge, self.told_at = challenge, self.clock.t

    def _play(self) -> None:
        """The replayed video's action now (as if it had just been told it)."""
        self.challenge, since = faces.replayed(self.clock.t + self.phase, self.script)
        self.told_at = self.clock.t - since

    def shut(self) -> float:
        """How shut the eyes are (answering a blink challenge; 0 otherwise)."""
        if self.challenge != "blink":
            return 0.0
        return faces.blink_shut(self.clock.t - self.told_at - self.reaction_s)

    def pose(self) -> scene3d.Pose3:
        t = self.clock.t
        k = min(1.0, max(0.0, (t - self.told_at - self.reaction_s) / self.move_s))
        sway = 0.8 * np.sin(t * 2.1)
        if self.behaviour == "still" or self.challenge is None:
            return scene3d.Pose3(yaw=sway if self.behaviour != "still" else 0.0,
                                 distance=self.distance)
        yaw = 0.0
        dist = self.distance
        # the person's own left: the nose to the frame's right (Pose3.yaw < 0, faces.pose3)
        if self.challenge == "turn_left":
            yaw = -k * self.turn_deg
        elif self.challenge == "turn_right":
            yaw = k * self.turn_deg
        elif self.challenge == "come_closer":
            dist = self.distance * (1.0 - 0.28 * k)
        if self.behaviour == "depth":  # the sheet also comes closer / goes farther
            dist *= 1.0 - 0.2 * k * np.sin(t * 3.0)
        pitch = 0.5 * sway
        if self.behaviour == "tilt":  # the sheet tipped (top away) to flatten its eyes
            pitch -= faces.TIP_DEG * self.shut()
        return scene3d.Pose3(yaw=yaw + sway, pitch=pitch, distance=dist)

    def __call__(self) -> Image:
        self.clock.t += 1.0 / FPS
        if self.behaviour == "replay":
            self._play()
        shut = self.shut() if self.behaviour in ("live", "replay") else 0.0
        rgb = self.scene.expressed(eyes_closed=shut).render(self.pose(), scene3d.room())
        if self.behaviour == "replay":
            rgb = scene3d.on_screen(rgb, self.phase)
        rgb += self.rng.normal(0.0, 3.0, rgb.shape).astype(np.float32)
        return cv2.cvtColor(np.clip(rgb, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)


def photo_landmarks(rgb: Image) -> tuple[tuple[float, float], tuple[float, float],
                                              tuple[float, float]] | None:
    """(eye, eye, nose) of the largest face in a photo, or None."""
    m = _Models.get()
    with m.run_lock:
        rects = m.detector(rgb, 1)
        if not rects:
            return None
        r = max(rects, key=lambda r: r.width() * r.height())
        shape = m.shape5(rgb, r)
    p = [(float(q.x), float(q.y)) for q in shape.parts()]
    eye_a = ((p[0][0] + p[1][0]) / 2, (p[0][1] + p[1][1]) / 2)
    eye_b = ((p[2][0] + p[3][0]) / 2, (p[2][1] + p[3][1]) / 2)
    return eye_a, eye_b, p[4]


class FixedChallenges(LivenessChecker):
    """A checker that asks the challenges it is given (to measure or test one alone)."""

    def __init__(self, challenges: tuple[str, ...], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fixed = challenges

    def draw(self) -> tuple[str, ...]:
        return self.fixed


def present(rgb: Image, kind: str, seed: int, cfg: FaceConfig | None = None,
            verifier: FaceVerifier | None = None, *, challenges: tuple[str, ...] | None = None,
            eyes: EyeModel | None = None) -> LivenessResult | None:
    """One presentation of the photo (``live`` or an attack type); None if the photo has
    no face. ``challenges`` fixes what is asked (else the checker draws, as at the kiosk)."""
    marks = photo_landmarks(rgb)
    if marks is None:
        return None
    rng = np.random.default_rng(seed)
    surface, fold, behaviour = ("head", 0.0, "live") if kind == "live" else ATTACKS[kind]
    scene = scene3d.Scene(rgb, (marks[0], marks[1]), marks[2], surface, fold_deg=fold or 35.0)
    if surface == "head":  # the live person, or a video of them
        turn = float(rng.uniform(15.0, 30.0))
    else:
        turn = float(rng.uniform(25.0, 40.0))  # attackers turn the sheet further
    clock = VirtualClock()
    script = REPLAYS.get(kind, faces.REPLAY_SCRIPT)
    actor = Actor(scene, clock, rng, behaviour, turn_deg=turn,
                  reaction_s=0.0 if behaviour == "replay" else float(rng.uniform(0.2, 0.6)),
                  distance=float(rng.uniform(0.4, 0.6)), script=script,
                  phase=float(rng.uniform(0.0, sum(d for _a, d in script))))
    cfg = cfg or FaceConfig(liveness_retries=0)
    rand = random.Random(seed)  # noqa: S311 - a reproducible evaluation, not a secret
    verifier = verifier or FaceVerifier(cfg)
    checker = (LivenessChecker(cfg, verifier, rng=rand, challenge_s=3.0, clock=clock, eyes=eyes)
               if challenges is None else
               FixedChallenges(challenges, cfg, verifier, rng=rand, challenge_s=3.0, clock=clock,
                      eyes=eyes))
    return checker.run(actor, Deadline(3600), actor.on_challenge)


def error_rates(results: Mapping[str, Sequence[LivenessResult]]) -> dict[str, float]:
    """APCER per attack type (share passed) and BPCER (share of ``live`` refused; of
    ``live_blink``, the blink alone, as ``bpcer_blink``)."""
    out: dict[str, float] = {}
    for kind, res in results.items():
        if not res:
            continue
        if kind.startswith("live"):
            out["bpcer" + kind[4:]] = sum(not r.passed for r in res) / len(res)
        else:
            out[f"apcer_{kind}"] = sum(r.passed for r in res) / len(res)
    return out
