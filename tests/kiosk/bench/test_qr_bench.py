"""The decode benchmark runs and compares the kiosk decoder with both baselines."""

from __future__ import annotations

import pytest

from kiosk.bench import qr as bench
from kiosk.bench.harness import BenchOptions


def test_quick_bench_reports_rates_against_both_baselines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "QUICK_COUNT", 6)
    results = bench.BENCHMARKS["qr.decode"](BenchOptions(quick=True))
    assert [r.baseline for r in results] == ["pyzbar", "zxing-cpp"] * 2
    assert [r.extra["hard"] for r in results] == [False, False, True, True]
    for r in results:
        assert r.n == 6 and r.unit == "ms/frame" and r.median > 0 and r.baseline_median > 0
        assert 0 <= r.extra["baseline_decode_rate"] <= 1
        assert r.extra["decode_rate"] >= (5 / 6 if not r.extra["hard"] else 0)
