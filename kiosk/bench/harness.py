"""The benchmark harness: measure, summarise, compare with a same-run baseline.

A benchmark module exposes ``BENCHMARKS: dict[str, Callable[[BenchOptions], list[BenchResult]]]``
and is listed in :data:`kiosk.bench.registry.MODULES`. Each result becomes one JSON line.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class BenchOptions:
    repeat: int = 20  # samples per measured quantity (benchmarks may scale it)
    quick: bool = False  # fewer samples, for CI smoke runs


@dataclass
class BenchResult:
    """One JSON line: the measured quantity, its baseline from the same run, their ratio."""

    name: str
    unit: str
    median: float
    p95: float
    n: int
    baseline: str
    baseline_median: float
    baseline_p95: float
    ratio: float  # median / baseline_median (lower is better unless said otherwise)
    extra: dict[str, Any] = field(default_factory=dict)

    def json(self) -> str:
        data = asdict(self)
        for key in ("median", "p95", "baseline_median", "baseline_p95", "ratio"):
            data[key] = round(data[key], 4)
        return json.dumps(data, ensure_ascii=False)


def p95(samples: list[float]) -> float:
    if len(samples) < 2:
        return samples[0]
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def sample(fn: Callable[[], Any], n: int, warmup: int = 1) -> list[float]:
    """Run ``fn`` ``n`` times after ``warmup`` runs; wall time of each run in ms."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def compare(name: str, unit: str, samples: list[float], baseline: str,
            baseline_samples: list[float], **extra: Any) -> BenchResult:
    med = statistics.median(samples)
    bmed = statistics.median(baseline_samples)
    return BenchResult(name, unit, med, p95(samples), len(samples), baseline, bmed,
                       p95(baseline_samples), med / bmed if bmed else float("inf"), dict(extra))


def against_limit(name: str, unit: str, samples: list[float], baseline: str, limit: float,
                  **extra: Any) -> BenchResult:
    """Compare with a physical limit (wire time, say) instead of a measured baseline."""
    return compare(name, unit, samples, baseline, [limit], **extra)
