"""Benchmark: QR decoding of generated camera frames, kiosk decoder vs pyzbar vs zxing-cpp.

All decoders see the same frames (``hardware.qr.testframes``, seed 2024) in the same run:

* ``qr.decode``: the original set; ``qr.decode.hard``: the harder development set of issue 16
  (with the decode rate per condition). Reported per decoder: decode rate (the expected text
  among the results) and ms per frame; each result line compares the kiosk decoder with one
  baseline.
* ``qr.decode.codeless``: frames without a code (backgrounds of the hard set, and frames of
  the camera simulator: a face, a phone-screen attack, nobody), what the camera QR watcher
  decodes while it waits. Its baseline is the decoder before issue 16's ladder (zxing-cpp
  half and full size, then four pyzbar passes): the ratio says whether idle CPU changed.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import cv2
import numpy.typing as npt
import zxingcpp
from pyzbar import pyzbar

from hardware.qr.camera_decode import FrameDecoder
from hardware.qr.testframes import TestFrame, frames, make_background
from kiosk.bench.harness import BenchOptions, BenchResult, compare

SEED = 2024
FULL_COUNT = 200
QUICK_COUNT = 30
FACE_POSES = 6  # camera-simulator frames per kind in the code-less set (quick: 1)

Image = npt.NDArray[Any]
Decoder = Callable[[Image], list[str]]
_QR_FORMAT: Any = zxingcpp.BarcodeFormat.QRCode
_ZBAR_QR = [pyzbar.ZBarSymbol.QRCODE]

CONDITIONS: dict[str, Callable[[TestFrame], bool]] = {
    "contrast<=0.3": lambda f: f.contrast <= 0.3,
    "moire": lambda f: f.moire,
    "glare": lambda f: f.glare,
    "inverted": lambda f: f.inverted,
    "module<4px": lambda f: f.module_px < 4.0,
    "blur>1": lambda f: f.blur > 1.0,
    "noise>=7": lambda f: f.noise >= 7.0,
}


def _plain_pyzbar(frame: Image) -> list[str]:
    syms = pyzbar.decode(frame, symbols=_ZBAR_QR)
    return [s.data.decode("utf-8", "replace") for s in syms]


def _zxing(frame: Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(frame, formats=_QR_FORMAT)]


def _before_ladder(frame: Image) -> list[str]:
    """The kiosk decoder before issue 16's ladder: zxing-cpp on the half-size and the full
    frame, then pyzbar on the half-size frame, thresholded, and on the smoothed full frame,
    thresholded (the located-code retries it also had need a located code: none here)."""
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    half = cv2.resize(gray, (gray.shape[1] // 2, gray.shape[0] // 2),
                      interpolation=cv2.INTER_AREA)
    for img in (half, gray):
        found = [r.text for r in zxingcpp.read_barcodes(img, formats=_QR_FORMAT)]
        if found:
            return found
    smooth = cv2.GaussianBlur(gray, (3, 3), 0)
    for make in (lambda: half, lambda: _mean_threshold(half, 25), lambda: smooth,
                 lambda: _mean_threshold(smooth, 41)):
        syms = pyzbar.decode(make(), symbols=_ZBAR_QR)
        if syms:
            return [s.data.decode("utf-8", "replace") for s in syms]
    return []


def _mean_threshold(gray: Image, block: int) -> Image:
    out: Image = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C,
                                       cv2.THRESH_BINARY, block, 4)
    return out


def run_decode(opts: BenchOptions) -> list[BenchResult]:
    """The original set (seed 2024), the harder development set of issue 16 and the
    code-less set."""
    count = QUICK_COUNT if opts.quick else FULL_COUNT
    out = []
    for prefix, hard in (("qr.decode", False), ("qr.decode.hard", True)):
        out += _run_set(prefix, hard, count)
    out.append(_run_codeless(count, 1 if opts.quick else FACE_POSES))
    return out


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``fn()``, its wall and its CPU (process) time in ms."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    return result, (time.perf_counter() - t0) * 1000.0, (time.process_time() - c0) * 1000.0


def _run_set(prefix: str, hard: bool, count: int) -> list[BenchResult]:
    kiosk = FrameDecoder()
    decoders: dict[str, Decoder] = {
        "kiosk": lambda f: [c.data for c in kiosk.decode(f)],
        "pyzbar": _plain_pyzbar,
        "zxing-cpp": _zxing,
    }
    times: dict[str, list[float]] = {k: [] for k in decoders}
    cpu: dict[str, list[float]] = {k: [] for k in decoders}
    hits: dict[str, int] = dict.fromkeys(decoders, 0)
    by_condition: dict[str, dict[str, list[int]]] = {
        k: {c: [0, 0] for c in CONDITIONS} for k in ("kiosk", "zxing-cpp")}
    for tf in frames(SEED, count, hard=hard):
        for name, fn in decoders.items():
            found, wall, used = _timed(functools.partial(fn, tf.frame))
            times[name].append(wall)
            cpu[name].append(used)
            hit = tf.text in found
            hits[name] += hit
            if name in by_condition:
                for cond, applies in CONDITIONS.items():
                    if applies(tf):
                        by_condition[name][cond][0] += hit
                        by_condition[name][cond][1] += 1
    rate = {k: hits[k] / count for k in decoders}
    summary = {k: {"decode_rate": round(rate[k], 4),
                   "median_ms": round(statistics.median(times[k]), 2),
                   "cpu_median_ms": round(statistics.median(cpu[k]), 2)} for k in decoders}
    conditions = {k: {c: f"{h}/{n}" for c, (h, n) in v.items() if n}
                  for k, v in by_condition.items()} if hard else {}
    out = []
    for base in ("pyzbar", "zxing-cpp"):
        out.append(compare(f"{prefix}.kiosk_vs_{base}", "ms/frame", times["kiosk"], base,
                           times[base], frames=count, size="1280x720", hard=hard,
                           decode_rate=rate["kiosk"], baseline_decode_rate=rate[base],
                           kiosk_stages=dict(kiosk.stats), decoders=summary,
                           **({"decoded_by_condition": conditions} if hard else {})))
    return out


def codeless_frames(count: int, face_poses: int) -> Iterator[tuple[str, Image]]:
    """``count`` backgrounds (1280x720) and ``face_poses`` camera-simulator frames (640x480)
    each of a face, of a phone-screen attack and of nobody: none holds a code."""
    for i in range(count):
        yield "background", make_background(SEED, i)
    from hardware.sim import faces

    for i in range(face_poses):
        pose = faces.Pose(yaw=0.15 * (i - face_poses / 2), dx=3.0 * i)
        yield "face", faces.live_frame("astronaut", pose, seed=i)
        yield "screen_attack", faces.attack_frame("astronaut", "screen", pose, seed=i)
        yield "nobody", faces.empty_frame(seed=i)


def _run_codeless(count: int, face_poses: int) -> BenchResult:
    kiosk = FrameDecoder()
    times: dict[str, list[float]] = {"kiosk": [], "before": []}
    cpu: dict[str, list[float]] = {"kiosk": [], "before": []}
    kinds: dict[str, int] = {}
    per_kind: dict[str, dict[str, list[float]]] = {}
    false_reads = 0
    decoders: dict[str, Decoder] = {"kiosk": lambda f: [c.data for c in kiosk.decode(f)],
                                    "before": _before_ladder}
    for kind, frame in codeless_frames(count, face_poses):
        kinds[kind] = kinds.get(kind, 0) + 1
        for name, fn in decoders.items():
            found, wall, used = _timed(functools.partial(fn, frame))
            times[name].append(wall)
            cpu[name].append(used)
            per_kind.setdefault(kind, {"kiosk": [], "before": []})[name].append(used)
            false_reads += bool(found) and name == "kiosk"
    return compare("qr.decode.codeless.kiosk_vs_before_ladder", "ms/frame", times["kiosk"],
                   "decoder before the issue-16 ladder", times["before"],
                   frames=len(times["kiosk"]), kinds=kinds, false_reads=false_reads,
                   kiosk_cpu_median_ms=round(statistics.median(cpu["kiosk"]), 2),
                   before_cpu_median_ms=round(statistics.median(cpu["before"]), 2),
                   cpu_ratio=round(statistics.median(cpu["kiosk"])
                                   / max(statistics.median(cpu["before"]), 1e-6), 3),
                   cpu_median_ms_by_kind={
                       k: {n: round(statistics.median(v), 2) for n, v in d.items()}
                       for k, d in per_kind.items()},
                   kiosk_stages=dict(kiosk.stats))


BENCHMARKS = {"qr.decode": run_decode}
