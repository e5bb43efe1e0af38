"""Benchmarks: per-frame verification latency and verification accuracy.

``face.verify``: the kiosk pipeline on a 640x480 frame (detect at reduced size, gates,
5-point landmarks, one encoding) against the plain library defaults in the same run
(``face_locations(frame)`` then ``face_encodings(frame)``). ``face.detect`` isolates the
detection + gate stage. ``face.accuracy``: genuine and impostor distance distributions and
FAR/FRR at ``FaceConfig.threshold`` on scikit-image faces (astronaut + lfw_subset), each a
reference photo against a differently augmented live frame.
"""

from __future__ import annotations

import statistics
import warnings
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from hardware.sim import faces
from hardware.sim.faces import Pose
from kiosk.bench.harness import BenchOptions, BenchResult, compare, p95
from kiosk.face.config import FaceConfig
from kiosk.face.verify import FaceGateError, FaceVerifier, decode_image, encoded


def _fr() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import face_recognition

    return face_recognition


def bench_verify(opts: BenchOptions) -> list[BenchResult]:
    n = 5 if opts.quick else max(5, opts.repeat)
    fr = _fr()
    verifier = FaceVerifier(FaceConfig())
    ref_enc = encoded(verifier.encode_reference(faces.reference_jpeg("astronaut")))
    frames = [faces.live_frame("astronaut", Pose(dx=dx, dy=dy), seed=i)
              for i, (dx, dy) in enumerate([(0, 0), (30, -10), (-40, 15), (10, 25)])]
    rgbs = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames]
    state = {"i": 0}

    def nxt() -> int:
        state["i"] += 1
        return state["i"] % len(frames)

    def kiosk() -> None:
        verifier.distance(ref_enc, encoded(verifier.analyse(frames[nxt()], bgr=True)))

    def detect_only() -> None:
        verifier.analyse(frames[nxt()], bgr=True, encode=False)

    def plain() -> None:
        rgb = cv2.cvtColor(frames[nxt()], cv2.COLOR_BGR2RGB)
        fr.face_locations(rgb)
        enc = fr.face_encodings(rgb)
        fr.face_distance([ref_enc], enc[0])

    def plain_detect() -> None:
        fr.face_locations(rgbs[nxt()])

    from kiosk.bench.harness import sample

    base = sample(plain, n)
    ours = sample(kiosk, n)
    det = sample(detect_only, n)
    base_det = sample(plain_detect, n)
    return [
        compare("face.verify", "ms", ours, "face_recognition defaults (locations+encodings)",
                base, goal_ratio=0.35, frame="640x480"),
        compare("face.detect", "ms", det, "face_recognition.face_locations (HOG, upsample 1)",
                base_det, frame="640x480"),
    ]


def _rates(gen: list[float], imp: list[float], thr: float) -> tuple[float, float]:
    frr = sum(d > thr for d in gen) / len(gen) if gen else float("nan")
    far = sum(d <= thr for d in imp) / len(imp) if imp else float("nan")
    return far, frr


def accuracy_distances(keys: list[str], encode: Callable[[bytes, Any], tuple[Any, Any]]
                       ) -> tuple[list[float], list[float], int]:
    """Genuine (same key) and impostor (different keys) distances; keys that fail are
    skipped and counted."""
    refs: dict[str, Any] = {}
    lives: dict[str, Any] = {}
    failed = 0
    for i, key in enumerate(keys):
        live = faces.live_frame(key, Pose(dx=(i % 5) * 8 - 16, roll=(i % 3) - 1.0), seed=i)
        try:
            r, lv = encode(faces.reference_jpeg(key), live)
        except (FaceGateError, IndexError):
            failed += 1
            continue
        refs[key], lives[key] = r, lv
    ok = list(refs)
    gen = [float(np.linalg.norm(refs[k] - lives[k])) for k in ok]
    imp = [float(np.linalg.norm(refs[a] - lives[b])) for a in ok for b in ok if a != b]
    return gen, imp, failed


def bench_accuracy(opts: BenchOptions) -> list[BenchResult]:
    cfg = FaceConfig()
    n = 24 if opts.quick else 100
    keys = ["astronaut"] + [f"lfw:{i}" for i in range(n)]
    verifier = FaceVerifier(cfg)

    def kiosk(ref_jpeg: bytes, live: Any) -> tuple[Any, Any]:
        r = verifier.encode_reference(ref_jpeg).encoding
        lv = verifier.analyse(live, bgr=True).encoding
        return r, lv

    fr = _fr()

    def plain(ref_jpeg: bytes, live: Any) -> tuple[Any, Any]:
        ref = decode_image(ref_jpeg)
        r = fr.face_encodings(ref)[0]
        lv = fr.face_encodings(cv2.cvtColor(live, cv2.COLOR_BGR2RGB))[0]
        return r, lv

    gen, imp, failed = accuracy_distances(keys, kiosk)
    pkeys = keys[: (12 if opts.quick else 40)]
    pgen, pimp, pfailed = accuracy_distances(pkeys, plain)
    kgen, kimp, _ = accuracy_distances(pkeys, kiosk)
    far, frr = _rates(gen, imp, cfg.threshold)
    sweep = {f"{t:.2f}": dict(zip(("far", "frr"), _rates(gen, imp, t), strict=True))
             for t in (0.35, 0.4, 0.45, 0.5, 0.55, 0.6)}
    pfar, pfrr = _rates(pgen, pimp, cfg.threshold)
    kfar, kfrr = _rates(kgen, kimp, cfg.threshold)
    result = compare("face.accuracy", "distance", gen, "impostor distances", imp,
                     threshold=cfg.threshold, far=far, frr=frr, genuine_pairs=len(gen),
                     impostor_pairs=len(imp), gate_failures=failed,
                     genuine_max=max(gen), impostor_min=min(imp),
                     impostor_p05=statistics.quantiles(imp, n=20)[0], sweep=sweep,
                     same_subset={"faces": len(pkeys), "kiosk_far": kfar, "kiosk_frr": kfrr,
                                  "plain_far": pfar, "plain_frr": pfrr,
                                  "plain_failures": pfailed,
                                  "plain_genuine_median": statistics.median(pgen),
                                  "kiosk_genuine_median": statistics.median(kgen)})
    result.extra["genuine_p95"] = p95(gen)
    return [result]


BENCHMARKS: dict[str, Callable[[BenchOptions], list[BenchResult]]] = {
    "face.verify": bench_verify,
    "face.accuracy": bench_accuracy,
}
