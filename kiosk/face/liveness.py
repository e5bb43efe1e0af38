"""Liveness: a randomised challenge-response that a sheet of paper or a screen cannot pass.

Each attempt draws two challenges in random order (always at least one head turn) with a
random pause before each, records a neutral baseline, then watches every frame:

- the **yaw cue**: the nose's horizontal offset from the eye midpoint, in eye distances,
  must change by :data:`YAW_DELTA` the way the challenge asks;
- the **relief cue** (:class:`Relief`): corners on the face are tracked (pyramidal
  Lucas-Kanade, forward-backward checked) from the baseline through the turn. After the best
  homography between the baseline and the turned frame, what is left is parallax, which is
  proportional to depth. A flat photo or a screen leaves none; paper folded or bent leaves a
  profile that varies along one direction only (paper cannot stretch: a developable surface,
  so one principal curvature is zero); a real face is a dome (nose, cheeks, forehead curve in
  both directions). A quadratic fitted to the parallax must be curved in both directions
  with the same sign (:data:`MIN_ELLIPTICITY`) and deep enough (:data:`MIN_RELIEF`);
- "come closer": eye distance growth of :data:`CLOSER_RATIO`;
- "blink": the eyes' openness (:mod:`kiosk.face.eyes`: MediaPipe's face mesh and eye contour
  models) must fall to :data:`BLINK_CLOSED` of the baseline's and come back to
  :data:`BLINK_OPEN` of it. A printed photo cannot close its eyes, and tipping it (which
  flattens the eyes on paper) flattens the face's height with them: openness is a ratio of two
  vertical lengths, and a frame counts only while the face keeps its proportions
  (:data:`BLINK_SHAPE`). Drawn only where the models are installed.

A move that was not asked (the other turn, a turn while asked to come closer or blink, coming
much closer while asked to turn or blink: :func:`wrong_move`) ends the attempt with
``wrong_move``: a video of the citizen doing every challenge in turn, replayed on a screen,
must show the asked move first, at the right time, twice. The random pause before each
challenge counts only while the face is still (:data:`STILL_YAW`), and a move that satisfies
the challenge sooner than :data:`REACTION_S` after it is shown was not an answer to it
(``wrong_move``; a blink that early is simply not counted: people blink anyway).
"""

from __future__ import annotations

import logging
import random
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from hardware.base import Deadline
from kiosk.face.config import FaceConfig
from kiosk.face.eyes import EyeModel, EyeState
from kiosk.face.meshmodels import ModelMissing
from kiosk.face.verify import FaceAnalysis, FaceGateError, FaceVerifier

CHALLENGES = ("turn_left", "turn_right", "come_closer", "blink")
TURNS = ("turn_left", "turn_right")
YAW_DELTA = 0.07  # yaw cue change that counts as a turn (eye distances)
CLOSER_RATIO = 1.18  # eye distance growth that counts as "came closer"
WRONG_YAW = 2 * YAW_DELTA  # a turn this large that was not asked ends the challenge
WRONG_CLOSER = 1.3  # ... and so does coming this much closer when not asked
REACTION_S = 0.25  # nobody answers a cue sooner: a move done by then was not an answer
STILL_YAW = 0.6 * YAW_DELTA  # the face counts as still within this yaw cue change ...
STILL_SCALE = 0.06  # ... and this change of eye distance; the pause needs it still
BASELINE_FRAMES = 2
MIN_RELIEF = 0.02  # RMS parallax after the homography, in eye distances
MIN_ELLIPTICITY = 0.3  # smaller / larger principal curvature of the parallax (same sign)
MIN_CURVATURE = 0.06  # the smaller principal curvature itself (eye distances)
MIN_TRACKS = 25
PAUSE_S = (0.2, 0.9)  # random pause before each challenge
PER_ATTEMPT = 2  # challenges drawn for one attempt
BLINK_CLOSED = 0.65  # openness / the baseline's that counts as eyes shut
BLINK_OPEN = 0.85  # ... and as open again after
BLINK_SHAPE = 0.9  # a frame counts only while the face keeps this share of its proportion

Frame = npt.NDArray[Any]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LivenessResult:
    passed: bool
    reason: str | None  # challenge_failed | not_3d | wrong_move | not_still | no_face |
    # multiple_faces | timeout | canceled
    challenges: tuple[str, ...]
    cues: dict[str, float] = field(default_factory=dict, compare=False)


def geometry(landmarks: npt.NDArray[np.float64]) -> tuple[float, float]:
    """(yaw cue, eye distance) from dlib's 5 points: 0-1 one eye, 2-3 the other, 4 nose."""
    eye_a = (landmarks[0] + landmarks[1]) / 2.0
    eye_b = (landmarks[2] + landmarks[3]) / 2.0
    iod = float(np.linalg.norm(eye_a - eye_b))
    mid = (eye_a + eye_b) / 2.0
    yaw = float((landmarks[4][0] - mid[0]) / iod) if iod > 0 else 0.0
    return yaw, iod


@dataclass(frozen=True)
class ReliefScore:
    """The parallax left after the best homography: its RMS and the principal curvatures of
    a quadratic fitted to it (eye distances)."""

    tracks: int
    relief: float
    curvatures: tuple[float, float]

    @property
    def ellipticity(self) -> float:
        a, b = sorted(self.curvatures, key=abs)
        if a * b <= 0 or b == 0:
            return 0.0
        return abs(a) / abs(b)

    @property
    def is_3d(self) -> bool:
        return (self.tracks >= MIN_TRACKS and self.relief >= MIN_RELIEF
                and self.ellipticity >= MIN_ELLIPTICITY
                and min(abs(c) for c in self.curvatures) >= MIN_CURVATURE)


class Relief:
    """Tracks face corners from a baseline frame; :meth:`score` measures the parallax."""

    def __init__(self, gray: Frame, face: FaceAnalysis, *, max_corners: int = 150) -> None:
        top, right, bottom, left = face.box
        mask = np.zeros(gray.shape[:2], np.uint8)
        cv2.rectangle(mask, (left, top), (right, bottom), 255, -1)
        pts = cv2.goodFeaturesToTrack(gray, max_corners, 0.005, 4, mask=mask)
        self.p0 = (np.zeros((0, 1, 2), np.float32) if pts is None
                   else np.asarray(pts, np.float32))
        self.p = self.p0.copy()
        self.alive = np.ones(len(self.p0), bool)
        self.prev = gray.copy()
        eye_a = (face.landmarks[0] + face.landmarks[1]) / 2.0
        eye_b = (face.landmarks[2] + face.landmarks[3]) / 2.0
        self.mid = (eye_a + eye_b) / 2.0
        self.iod = float(np.linalg.norm(eye_a - eye_b)) or 1.0

    def update(self, gray: Frame) -> None:
        if not len(self.p):
            return
        lk: Any = cv2.calcOpticalFlowPyrLK  # its stubs want a nextPts array, None is fine
        p1, st, _ = lk(self.prev, gray, self.p, None, winSize=(21, 21), maxLevel=3)
        back, st2, _ = lk(gray, self.prev, p1, None, winSize=(21, 21), maxLevel=3)
        fb = np.linalg.norm((back - self.p).reshape(-1, 2), axis=1)
        self.alive &= (st.ravel() == 1) & (st2.ravel() == 1) & (fb < 0.7)
        self.p = p1
        self.prev[:] = gray

    def score(self) -> ReliefScore:
        a0 = self.p0.reshape(-1, 2)[self.alive].astype(np.float64)
        a1 = self.p.reshape(-1, 2)[self.alive].astype(np.float64)
        n = len(a0)
        if n < 8:
            return ReliefScore(n, 0.0, (0.0, 0.0))
        h, _ = cv2.findHomography(a0, a1, 0)
        if h is None:
            return ReliefScore(n, 0.0, (0.0, 0.0))
        proj = cv2.perspectiveTransform(a0.reshape(-1, 1, 2), h).reshape(-1, 2)
        res = (a1 - proj)[:, 0] / self.iod  # the turn is horizontal: so is the parallax
        q = (a0 - self.mid) / self.iod
        x, y = q[:, 0], q[:, 1]
        design = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
        c, *_ = np.linalg.lstsq(design, res, rcond=None)
        hess = np.array([[2 * c[3], c[4]], [c[4], 2 * c[5]]])
        ev = np.linalg.eigvalsh(hess)
        return ReliefScore(n, float(np.sqrt(np.mean(res ** 2))), (float(ev[0]), float(ev[1])))

    def wipe(self) -> None:
        self.prev.fill(0)


class _Ended(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Seen:
    face: FaceAnalysis
    gray: Frame
    frame: Frame


class LivenessChecker:
    """Runs up to ``1 + cfg.liveness_retries`` attempts of two random challenges each.

    ``on_challenge`` is told each challenge (and ``None`` at the end) so the UI can show and
    speak it; a simulated camera is told too (``Camera.on_challenge``) so it can act it out.
    ``on_frame`` sees every frame with a usable face and its analysis (the combined face check
    encodes frontal ones from it); ``on_gate`` is told each frame's quality gate (``ok`` or a
    :data:`~kiosk.face.verify.GATE_CODES` code: the UI's "come closer", "face the light").
    ``passed`` counts the challenges passed in the current attempt. ``cues`` of the result
    hold the last relief measured, and the blink's lowest openness ratio. ``eyes`` measures
    the blink (loaded from the installed models when ``cfg.blink``; without them the blink is
    not drawn, and a warning says so once).
    """

    def __init__(self, cfg: FaceConfig | None = None, verifier: FaceVerifier | None = None,
                 *, rng: random.Random | None = None, challenge_s: float = 4.0,
                 pause_s: tuple[float, float] = PAUSE_S,
                 clock: Callable[[], float] = time.monotonic,
                 eyes: EyeModel | None = None) -> None:
        self.cfg = cfg or FaceConfig()
        self.verifier = verifier or FaceVerifier(self.cfg)
        self.eyes = eyes
        if eyes is None and self.cfg.blink:
            try:
                self.eyes = EyeModel()
            except ModelMissing as exc:
                log.warning("liveness: no blink challenge (%s)", exc)
        self.rng = rng or random.SystemRandom()
        self.challenge_s = challenge_s
        self.pause_s = pause_s
        self.clock = clock
        self.frames_seen = 0
        self.in_challenge = False  # True while a challenge is shown (for ``on_frame``)
        self.challenge_frames = 0  # frames processed while a challenge was shown
        self.challenge_time = 0.0  # seconds challenges were shown
        self.passed = 0  # challenges passed in the current attempt
        self.cues: dict[str, float] = {}
        self._gate: Callable[[str], None] = lambda _g: None

    @property
    def challenges(self) -> tuple[str, ...]:
        """The challenges this checker can draw."""
        return tuple(c for c in CHALLENGES if c != "blink" or self.eyes is not None)

    def draw(self) -> tuple[str, ...]:
        first = self.rng.choice(TURNS)
        second = self.rng.choice([c for c in self.challenges if c != first])
        pair = [first, second]
        self.rng.shuffle(pair)
        return tuple(pair)

    def run(self, frames: Callable[[], Frame | None], deadline: Deadline,
            on_challenge: Callable[[str | None], None] | None = None,
            on_frame: Callable[[Frame, FaceAnalysis], None] | None = None,
            on_gate: Callable[[str], None] | None = None) -> LivenessResult:
        tell = on_challenge or (lambda _c: None)
        seen = on_frame or (lambda _f, _a: None)
        self._gate = on_gate or (lambda _g: None)
        done: list[str] = []
        reason: str | None = "challenge_failed"
        try:
            for _attempt in range(1 + self.cfg.liveness_retries):
                challenges = self.draw()
                self.passed = 0
                try:
                    self._attempt(frames, deadline, tell, seen, challenges, done)
                    return LivenessResult(True, None, tuple(done), dict(self.cues))
                except _Ended as end:
                    self.in_challenge = False
                    reason = end.reason
                    if reason in ("timeout", "canceled", "multiple_faces"):
                        break
            return LivenessResult(False, reason, tuple(done), dict(self.cues))
        finally:
            tell(None)

    # -- one attempt ----------------------------------------------------------------------
    def _next(self, frames: Callable[[], Frame | None], deadline: Deadline, until: float,
              seen: Callable[[Frame, FaceAnalysis], None]) -> _Seen | None:
        """The next frame with exactly one usable face, or None by ``until``."""
        while self.clock() < until:
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
                self._gate(exc.gate)
                if exc.gate == "multiple_faces":
                    raise _Ended("multiple_faces") from None
                continue
            self._gate("ok")
            self.frames_seen += 1
            seen(frame, face)
            return _Seen(face, cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), frame)
        return None

    def _attempt(self, frames: Callable[[], Frame | None], deadline: Deadline,
                 tell: Callable[[str | None], None],
                 seen: Callable[[Frame, FaceAnalysis], None], challenges: tuple[str, ...],
                 done: list[str]) -> None:
        for challenge in challenges:
            tell(None)  # "look straight at the camera" between challenges
            base = self._baseline(frames, deadline, seen)
            yaw0 = statistics.median(geometry(b.face.landmarks)[0] for b in base)
            iod0 = statistics.median(geometry(b.face.landmarks)[1] for b in base)
            relief = Relief(base[-1].gray, base[-1].face)
            blink = _Blink(self._eyes(b) for b in base) if challenge == "blink" else None
            self.in_challenge = True
            tell(challenge)
            done.append(challenge)
            shown_at = self.clock()
            until = shown_at + self.challenge_s
            moved = False
            try:
                while True:
                    s = self._next(frames, deadline, until, seen)
                    if s is None:
                        self.challenge_time += self.clock() - shown_at
                        raise _Ended("not_3d" if moved else "challenge_failed")
                    self.challenge_frames += 1
                    g = geometry(s.face.landmarks)
                    early = self.clock() - shown_at < REACTION_S
                    if wrong_move(challenge, g, yaw0, iod0) or (
                            early and blink is None and _satisfied(challenge, g, yaw0, iod0)):
                        s.face.wipe()
                        self.challenge_time += self.clock() - shown_at
                        raise _Ended("wrong_move")
                    if blink is not None:
                        done_blinking = blink.see(self._eyes(s), counts=not early)
                        s.face.wipe()
                        self.cues = {"blink_min_ratio": blink.lowest}
                        if done_blinking:
                            break
                        continue
                    relief.update(s.gray)
                    s.face.wipe()
                    if not _satisfied(challenge, g, yaw0, iod0):
                        continue
                    if challenge not in TURNS:
                        break
                    moved = True
                    score = relief.score()
                    self.cues = {"relief": score.relief, "ellipticity": score.ellipticity,
                                 "tracks": float(score.tracks),
                                 "curvature_min": min(abs(c) for c in score.curvatures)}
                    if score.is_3d:
                        break
            finally:
                relief.wipe()  # the baseline's grey frame, on every way out
            self.in_challenge = False
            self.passed += 1
            self.challenge_time += self.clock() - shown_at

    def _eyes(self, s: _Seen) -> EyeState:
        if self.eyes is None:  # the blink is drawn only with the models
            raise RuntimeError("blink challenge without the eye models")
        return self.eyes.measure(s.frame, s.face.box, s.face.landmarks)

    def _baseline(self, frames: Callable[[], Frame | None], deadline: Deadline,
                  seen: Callable[[Frame, FaceAnalysis], None]) -> list[_Seen]:
        """A random pause with the face still (a move starts it again), then
        :data:`BASELINE_FRAMES` frames of the face at rest."""
        pause = self.rng.uniform(*self.pause_s)
        pause_end = self.clock() + pause
        base: list[_Seen] = []
        until = pause_end + self.challenge_s
        rest: tuple[float, float] | None = None
        while True:
            s = self._next(frames, deadline, until, seen)
            if s is None:
                raise _Ended("not_still" if rest is not None else "no_face")
            g = geometry(s.face.landmarks)
            if rest is None or _moved(g, rest):
                rest = g
                pause_end = max(pause_end, self.clock() + pause)
                base = []
            base.append(s)
            base = base[-BASELINE_FRAMES:]
            if self.clock() >= pause_end and len(base) >= BASELINE_FRAMES:
                return base


class _Blink:
    """A blink seen: openness down to :data:`BLINK_CLOSED` of the baseline, then back up
    to :data:`BLINK_OPEN` of it, on frames where the face keeps its proportions."""

    def __init__(self, baseline: Iterable[EyeState]) -> None:
        states = list(baseline)
        self.open = statistics.median(e.openness for e in states)
        self.proportion = statistics.median(e.proportion for e in states)
        self.closed = False
        self.lowest = 1.0

    def see(self, eyes: EyeState, *, counts: bool = True) -> bool:
        """True once the blink is done; ``counts`` False: eyes shut now (sooner than anyone
        answers) are not the answer."""
        if eyes.proportion < BLINK_SHAPE * self.proportion:
            return False  # flattened: a sheet tipped, not eyelids
        ratio = eyes.openness / self.open if self.open > 0 else 1.0
        self.lowest = min(self.lowest, ratio)
        if ratio <= BLINK_CLOSED and counts:
            self.closed = True
        return self.closed and ratio >= BLINK_OPEN


def _moved(g: tuple[float, float], rest: tuple[float, float]) -> bool:
    yaw, iod = g
    return abs(yaw - rest[0]) > STILL_YAW or (
        rest[1] > 0 and abs(iod / rest[1] - 1.0) > STILL_SCALE)


def wrong_move(challenge: str, g: tuple[float, float], yaw0: float, iod0: float) -> bool:
    """A move the challenge did not ask for (see the module doc); a blink is never wrong
    (people blink all the time), and small moves are not either."""
    yaw, iod = g
    turned = yaw - yaw0
    closer = iod0 > 0 and iod / iod0 >= WRONG_CLOSER
    if challenge == "turn_left":
        return turned <= -WRONG_YAW or closer
    if challenge == "turn_right":
        return turned >= WRONG_YAW or closer
    if challenge == "come_closer":
        return abs(turned) >= WRONG_YAW
    return abs(turned) >= WRONG_YAW or closer


def _satisfied(challenge: str, g: tuple[float, float], yaw0: float, iod0: float) -> bool:
    """Left and right are the citizen's own: a camera facing them (frames not mirrored)
    sees a head turned to its owner's left with the nose moved to the frame's right."""
    yaw, iod = g
    if challenge == "turn_left":
        return yaw - yaw0 >= YAW_DELTA
    if challenge == "turn_right":
        return yaw - yaw0 <= -YAW_DELTA
    return iod0 > 0 and iod / iod0 >= CLOSER_RATIO
