"""Benchmark: QR decoding of generated camera frames, kiosk decoder vs pyzbar vs zxing-cpp.

All three decoders see the same frames (``hardware.qr.testframes``, seed 2024) in the same
run. Reported per decoder: decode rate (the expected text among the results) and ms per
frame; each result line compares the kiosk decoder with one baseline.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import zxingcpp
from pyzbar import pyzbar

from hardware.qr.camera_decode import FrameDecoder
from hardware.qr.testframes import frames
from kiosk.bench.harness import BenchOptions, BenchResult, compare

SEED = 2024
FULL_COUNT = 200
QUICK_COUNT = 30

Image = npt.NDArray[np.uint8]
Decoder = Callable[[Image], list[str]]
_QR_FORMAT: Any = zxingcpp.BarcodeFormat.QRCode


def _plain_pyzbar(frame: Image) -> list[str]:
    syms = pyzbar.decode(frame, symbols=[pyzbar.ZBarSymbol.QRCODE])
    return [s.data.decode("utf-8", "replace") for s in syms]


def _zxing(frame: Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(frame, formats=_QR_FORMAT)]


def run_decode(opts: BenchOptions) -> list[BenchResult]:
    """The original set (seed 2024) and the harder development set of issue 16."""
    count = QUICK_COUNT if opts.quick else FULL_COUNT
    out = []
    for prefix, hard in (("qr.decode", False), ("qr.decode.hard", True)):
        out += _run_set(prefix, hard, count)
    return out


def _run_set(prefix: str, hard: bool, count: int) -> list[BenchResult]:
    kiosk = FrameDecoder()
    decoders: dict[str, Decoder] = {
        "kiosk": lambda f: [c.data for c in kiosk.decode(f)],
        "pyzbar": _plain_pyzbar,
        "zxing-cpp": _zxing,
    }
    times: dict[str, list[float]] = {k: [] for k in decoders}
    hits: dict[str, int] = dict.fromkeys(decoders, 0)
    for tf in frames(SEED, count, hard=hard):
        for name, fn in decoders.items():
            t0 = time.perf_counter()
            found = fn(tf.frame)
            times[name].append((time.perf_counter() - t0) * 1000.0)
            hits[name] += tf.text in found
    rate = {k: hits[k] / count for k in decoders}
    summary = {k: {"decode_rate": round(rate[k], 4),
                   "median_ms": round(statistics.median(times[k]), 2)} for k in decoders}
    out = []
    for base in ("pyzbar", "zxing-cpp"):
        out.append(compare(f"{prefix}.kiosk_vs_{base}", "ms/frame", times["kiosk"], base,
                           times[base], frames=count, size="1280x720", hard=hard,
                           decode_rate=rate["kiosk"], baseline_decode_rate=rate[base],
                           kiosk_stages=dict(kiosk.stats), decoders=summary))
    return out


BENCHMARKS = {"qr.decode": run_decode}
