"""The kiosk's face check: the reference, liveness and the 1:1 decision in one pass.

1. The reference photo is encoded first (upsampled when small, jittered): a reference with
   no usable face ends the check at once with :data:`~kiosk.face.verify.REFERENCE_UNUSABLE`,
   and the kiosk offers the path without face.
2. Liveness (:class:`~kiosk.face.liveness.LivenessChecker`) runs on every frame. Frontal
   frames seen while the citizen rests between challenges are encoded then (never during a
   challenge, so the challenge keeps its frame rate): the face that is verified is the face
   that did the challenges.
3. The decision fuses ``cfg.frames`` encodings (``cfg.fusion``) against ``cfg.threshold``,
   taking more frames after the challenges if the rests did not give enough.

What the citizen in front of the camera should be told goes to ``on_feedback`` as
:class:`FaceFeedback` events, on every change: the last frame's quality gate, the challenge
shown, progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from hardware.base import Deadline
from kiosk.face.config import FaceConfig
from kiosk.face.liveness import PER_ATTEMPT, LivenessChecker, geometry
from kiosk.face.verify import (
    Encoding,
    FaceAnalysis,
    FaceGateError,
    FaceVerifier,
    VerifyResult,
    encoded,
    wipe,
)

FRONTAL_YAW = 0.06  # |yaw cue| of a frame worth encoding (eye distances)


@dataclass(frozen=True)
class FaceFeedback:
    """What the face screen shows now (no personal data): ``gate`` is the last frame's
    quality gate (``ok`` or one of :data:`~kiosk.face.verify.GATE_CODES`), ``challenge`` the
    liveness challenge shown (None between challenges), ``step`` of ``steps`` the progress
    (each challenge passed, then the decision)."""

    gate: str
    challenge: str | None
    step: int
    steps: int


class _Teller:
    """Sends a :class:`FaceFeedback` whenever what it says changes."""

    def __init__(self, sink: Callable[[FaceFeedback], None] | None, steps: int) -> None:
        self.sink = sink
        self.last: FaceFeedback | None = None
        self.gate, self.challenge, self.step, self.steps = "", None, 0, steps

    def update(self, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(self, key, value)
        if self.sink is None or not self.gate:
            return
        fb = FaceFeedback(self.gate, self.challenge, self.step, self.steps)
        if fb != self.last:
            self.last = fb
            self.sink(fb)


@dataclass(frozen=True)
class CheckResult:
    """``error`` is None on a match, else the message key's suffix: ``reference_unusable``,
    ``liveness_failed``, ``mismatch``, a gate, ``timeout`` or ``canceled``."""

    match: bool
    error: str | None
    verify: VerifyResult | None = None
    timings: dict[str, float] = field(default_factory=dict, compare=False)


class FaceChecker(Protocol):
    """What runs a face check: :class:`FaceCheck` on the caller's thread, or
    :class:`kiosk.face.worker.FaceWorker` in the face process."""

    def run(self, frames: Callable[[], Any], reference_jpeg: bytes | bytearray,
            deadline: Deadline, on_challenge: Callable[[str | None], None] | None = None,
            on_progress: Callable[[str], None] | None = None,
            on_feedback: Callable[[FaceFeedback], None] | None = None) -> CheckResult: ...


class FaceCheck:
    """Liveness and verification over one camera's frames (see the module doc)."""

    def __init__(self, cfg: FaceConfig | None = None, verifier: FaceVerifier | None = None,
                 liveness: LivenessChecker | None = None) -> None:
        self.cfg = cfg or FaceConfig()
        self.verifier = verifier or FaceVerifier(self.cfg)
        self.liveness = liveness or LivenessChecker(self.cfg, self.verifier)

    def run(self, frames: Callable[[], Any], reference_jpeg: bytes | bytearray,
            deadline: Deadline, on_challenge: Callable[[str | None], None] | None = None,
            on_progress: Callable[[str], None] | None = None,
            on_feedback: Callable[[FaceFeedback], None] | None = None) -> CheckResult:
        t0 = time.perf_counter()
        teller = _Teller(on_feedback, (PER_ATTEMPT if self.cfg.liveness else 0) + 1)
        told = on_progress or (lambda _s: None)

        def progress(step: str) -> None:  # the decision's gates ("face_ok": a usable frame)
            told(step)
            teller.update(gate="ok" if step == "face_ok" else step)

        def challenge(shown: str | None) -> None:
            if on_challenge is not None:
                on_challenge(shown)
            teller.update(challenge=shown, step=self.liveness.passed)

        def gate(code: str) -> None:
            teller.update(gate=code, step=self.liveness.passed)
        timings: dict[str, float] = {}
        ref = self.verifier.reference(reference_jpeg)
        timings["reference_ms"] = (time.perf_counter() - t0) * 1000
        if isinstance(ref, str):
            return CheckResult(False, ref, None, timings)
        ref_encoding = encoded(ref)
        lives: list[Encoding] = []
        try:
            if self.cfg.liveness:
                def on_frame(frame: Any, face: FaceAnalysis) -> None:
                    if self.liveness.in_challenge or len(lives) >= self.cfg.frames:
                        return
                    if abs(geometry(face.landmarks)[0]) > FRONTAL_YAW:
                        return
                    try:
                        lives.append(encoded(self.verifier.analyse(frame, bgr=True)))
                    except FaceGateError:
                        pass

                t1 = time.perf_counter()
                live = self.liveness.run(frames, deadline, challenge, on_frame, gate)
                timings["liveness_ms"] = (time.perf_counter() - t1) * 1000
                timings["liveness_frames"] = float(self.liveness.frames_seen)
                if self.liveness.challenge_time > 0:
                    timings["challenge_fps"] = (self.liveness.challenge_frames
                                                / self.liveness.challenge_time)
                if not live.passed:
                    error = live.reason if live.reason in ("timeout", "canceled") else (
                        "liveness_failed")
                    return CheckResult(False, error, None, timings)
            t2 = time.perf_counter()
            teller.update(challenge=None, step=teller.steps - 1)
            result = self.verifier.decide(frames, ref_encoding, deadline, progress,
                                          encodings=lives)
            timings["decide_ms"] = (time.perf_counter() - t2) * 1000
            if result.match:
                teller.update(gate="ok", step=teller.steps)
            timings["total_ms"] = (time.perf_counter() - t0) * 1000
            return CheckResult(result.match, None if result.match else result.reason or
                               "mismatch", result, timings)
        finally:
            ref.wipe()
            for lv in lives:
                wipe(lv)
