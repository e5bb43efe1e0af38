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
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hardware.base import Deadline
from kiosk.face.config import FaceConfig
from kiosk.face.liveness import LivenessChecker, geometry
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
class CheckResult:
    """``error`` is None on a match, else the message key's suffix: ``reference_unusable``,
    ``liveness_failed``, ``mismatch``, a gate, ``timeout`` or ``canceled``."""

    match: bool
    error: str | None
    verify: VerifyResult | None = None
    timings: dict[str, float] = field(default_factory=dict, compare=False)


class FaceCheck:
    """Liveness and verification over one camera's frames (see the module doc)."""

    def __init__(self, cfg: FaceConfig | None = None, verifier: FaceVerifier | None = None,
                 liveness: LivenessChecker | None = None) -> None:
        self.cfg = cfg or FaceConfig()
        self.verifier = verifier or FaceVerifier(self.cfg)
        self.liveness = liveness or LivenessChecker(self.cfg, self.verifier)

    def run(self, frames: Callable[[], Any], reference_jpeg: bytes | bytearray,
            deadline: Deadline, on_challenge: Callable[[str | None], None] | None = None,
            on_progress: Callable[[str], None] | None = None) -> CheckResult:
        t0 = time.perf_counter()
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
                live = self.liveness.run(frames, deadline, on_challenge, on_frame)
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
            result = self.verifier.decide(frames, ref_encoding, deadline, on_progress,
                                          encodings=lives)
            timings["decide_ms"] = (time.perf_counter() - t2) * 1000
            timings["total_ms"] = (time.perf_counter() - t0) * 1000
            return CheckResult(result.match, None if result.match else result.reason or
                               "mismatch", result, timings)
        finally:
            ref.wipe()
            for lv in lives:
                wipe(lv)
