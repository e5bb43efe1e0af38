"""Face decision evaluation: encodings of the evaluation set, genuine and impostor distances
per decision rule, FAR/FRR curves and an operating point chosen by a stated FAR target.

Used by ``kiosk bench face.accuracy``; the arithmetic (rules, rates, operating point) is
plain numpy and tested on its own (``tests/kiosk/face/test_evaluation.py``).
"""

from __future__ import annotations

import math
import multiprocessing
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from kiosk.face import evalset
from kiosk.face.config import FUSION_RULES, FaceConfig
from kiosk.face.verify import FaceGateError, FaceVerifier, fuse

Encoding = npt.NDArray[np.float64]
RULES = ("single", *FUSION_RULES)  # "single": the first usable frame alone
NEAR_DUPLICATE = 0.95  # correlation of two photos' face thumbnails above which they are one


@dataclass
class Sample:
    """One photo's encodings: references rendered from it and one live session of it."""

    identity: str
    index: int
    split: str
    chip: Encoding | None = None
    platform: Encoding | None = None
    live: list[Encoding] = field(default_factory=list)
    gates: list[str] = field(default_factory=list)  # gates the session's frames failed
    plain_chip: Encoding | None = None
    plain_live: Encoding | None = None
    thumb: npt.NDArray[np.float32] | None = None


def _thumb(rgb: npt.NDArray[Any], box: evalset.Box) -> npt.NDArray[np.float32]:
    top, right, bottom, left = box
    g = cv2.cvtColor(rgb[top:bottom, left:right], cv2.COLOR_RGB2GRAY)
    t = cv2.resize(g, (24, 24), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    t -= t.mean()
    n = float(np.linalg.norm(t))
    out: npt.NDArray[np.float32] = t / n if n else t
    return out


def _plain() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import face_recognition
    return face_recognition


def encode_photo(photo: evalset.Photo, cfg: FaceConfig, *, seed: int, frames: int = 3,
                 plain: bool = True) -> Sample | None:
    """The sample of one photo, or None when no face is found in the source photo."""
    box = evalset.face_box(photo.rgb)
    if box is None:
        return None
    v = FaceVerifier(cfg)
    s = Sample(photo.identity, photo.index, photo.split, thumb=_thumb(photo.rgb, box))
    chip = evalset.chip_reference(photo.rgb, box)
    for kind, jpeg in (("chip", chip), ("platform", evalset.platform_reference(photo.rgb, box))):
        try:
            setattr(s, kind, v.encode_reference(jpeg).encoding)
        except FaceGateError:
            pass
    live = evalset.live_frames(photo.rgb, box, seed, frames)
    for frame in live:
        try:
            s.live.append(np.asarray(v.analyse(frame, bgr=True).encoding))
        except FaceGateError as exc:
            s.gates.append(exc.gate)
    if plain:
        fr = _plain()
        from kiosk.face.verify import decode_image

        enc = fr.face_encodings(decode_image(chip))
        s.plain_chip = np.asarray(enc[0]) if enc else None
        enc = fr.face_encodings(cv2.cvtColor(live[0], cv2.COLOR_BGR2RGB))
        s.plain_live = np.asarray(enc[0]) if enc else None
    return s


_JOB: dict[str, Any] = {}


def _work(i: int) -> Sample | None:
    photo: evalset.Photo = _JOB["photos"][i]
    return encode_photo(photo, _JOB["cfg"], seed=1000 + i, frames=_JOB["frames"],
                        plain=_JOB["plain"](photo))


def encode_all(photos: Sequence[evalset.Photo], cfg: FaceConfig, *, frames: int = 3,
               plain: Callable[[evalset.Photo], bool] = lambda _p: True,
               processes: int = 2) -> tuple[list[Sample], int]:
    """Samples of all photos (in ``processes`` forked workers) and the number of photos in
    whose source no face was found."""
    _JOB.update(photos=list(photos), cfg=cfg, frames=frames, plain=plain)
    try:
        if processes > 1:
            with multiprocessing.get_context("fork").Pool(processes) as pool:
                out = pool.map(_work, range(len(photos)), chunksize=4)
        else:
            out = [_work(i) for i in range(len(photos))]
    finally:
        _JOB.clear()
    samples = [s for s in out if s is not None]
    return samples, len(out) - len(samples)


# -- decisions ------------------------------------------------------------------------------
def session_distance(ref: Encoding, live: Sequence[Encoding], rule: str) -> float:
    """The distance a decision rule compares with the threshold (NaN for no frame)."""
    if not live:
        return math.nan
    if rule == "single":
        return float(np.linalg.norm(live[0] - ref))
    return fuse(ref, list(live), rule)


def pair_distances(samples: Sequence[Sample], ref_kind: str, rule: str, split: str, *,
                   plain: bool = False) -> tuple[list[float], list[float], int]:
    """Genuine and impostor distances of ``split`` (refs of one photo against the live
    session of another: same identity but not the same photo -> genuine, other identity ->
    impostor), and the number of genuine pairs left out as near-duplicate photos."""
    sel = [s for s in samples if s.split == split]
    refs = [(s, getattr(s, f"plain_{ref_kind}" if plain else ref_kind)) for s in sel]
    lives = [(s, [s.plain_live] if plain and s.plain_live is not None
              else ([] if plain else s.live)) for s in sel]
    refs = [(s, r) for s, r in refs if r is not None]
    lives = [(s, lv) for s, lv in lives if lv]
    gen: list[float] = []
    imp: list[float] = []
    dups = 0
    if not refs or not lives:
        return gen, imp, dups
    by_rule = _matrix(np.array([r for _s, r in refs]), [lv for _s, lv in lives],
                      "single" if plain else rule)
    for i, (a, _r) in enumerate(refs):
        for j, (b, _lv) in enumerate(lives):
            if a.identity != b.identity:
                imp.append(float(by_rule[i, j]))
            elif a.index != b.index:
                if (a.thumb is not None and b.thumb is not None
                        and float(a.thumb @ b.thumb) > NEAR_DUPLICATE):
                    dups += 1
                    continue
                gen.append(float(by_rule[i, j]))
    return gen, imp, dups


def _matrix(refs: npt.NDArray[np.float64], lives: list[list[Encoding]],
            rule: str) -> npt.NDArray[np.float64]:
    """refs x sessions matrix of session distances (vectorised)."""
    n = max(len(lv) for lv in lives)
    stack = np.full((len(lives), n, refs.shape[1]), np.nan)
    for j, lv in enumerate(lives):
        stack[j, :len(lv)] = np.array(lv)
    if rule == "mean":
        counts = np.array([len(lv) for lv in lives], float)[:, None]
        means = np.nansum(stack, axis=1) / counts
        out: npt.NDArray[np.float64] = np.linalg.norm(refs[:, None, :] - means[None], axis=2)
        return out
    d = np.linalg.norm(refs[:, None, None, :] - stack[None], axis=3)  # refs x sess x frames
    if rule == "single":
        return np.asarray(d[:, :, 0])
    if rule == "all":
        return np.asarray(np.nanmax(d, axis=2))
    if rule == "best":
        return np.asarray(np.nanmin(d, axis=2))
    if rule == "median":
        return np.asarray(np.nanmedian(d, axis=2))
    raise ValueError(f"unknown rule {rule!r}")


def rates(gen: Sequence[float], imp: Sequence[float], thr: float) -> tuple[float, float]:
    """(FAR, FRR) at ``thr``: an impostor at or below it is accepted, a genuine above it is
    rejected."""
    g, i = np.asarray(gen), np.asarray(imp)
    far = float((i <= thr).mean()) if i.size else math.nan
    frr = float((g > thr).mean()) if g.size else math.nan
    return far, frr


def far_upper(accepted: int, n: int, confidence: float = 0.95) -> float:
    """The one-sided Clopper-Pearson upper bound of a FAR seen as ``accepted`` of ``n``."""
    from scipy.stats import beta  # type: ignore[import-untyped]  # scipy: no stubs

    if accepted >= n:
        return 1.0
    return float(beta.ppf(confidence, accepted + 1, n - accepted))


def threshold_for_far(imp: Sequence[float], target: float, *,
                      confidence: float | None = None) -> float:
    """The largest threshold whose FAR on ``imp`` is at most ``target`` (lowest FRR); with
    ``confidence``, whose FAR's upper confidence bound (:func:`far_upper`) is at most it, so
    that a FAR measured on other impostors stays under the target too."""
    s = np.sort(np.asarray(imp))
    if not s.size:
        raise ValueError("no impostor distances")
    k = int(math.floor(target * s.size + 1e-9))  # impostors that may be accepted
    if confidence is not None:
        while k > 0 and far_upper(k, s.size, confidence) > target:
            k -= 1
        if far_upper(0, s.size, confidence) > target:
            raise ValueError(f"{s.size} impostor pairs cannot bound the FAR at {target}")
    if k >= s.size:
        return float(s[-1])
    below = s[k]  # the (k+1)-th smallest must be rejected
    t = float(np.nextafter(below, -np.inf))
    return t


def curve(gen: Sequence[float], imp: Sequence[float],
          thresholds: Sequence[float]) -> dict[str, dict[str, float]]:
    return {f"{t:.3f}": dict(zip(("far", "frr"), rates(gen, imp, t), strict=True))
            for t in thresholds}


def quantiles(values: Sequence[float], qs: Sequence[float] = (0.0, 0.05, 0.25, 0.5, 0.75,
                                                                 0.95, 1.0)) -> dict[str, float]:
    a = np.asarray(values)
    if not a.size:
        return {}
    return {f"q{int(q * 100):02d}": round(float(np.quantile(a, q)), 4) for q in qs}
