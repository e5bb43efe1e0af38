"""The decode benchmark runs and compares the kiosk decoder with both baselines."""

from __future__ import annotations

import pytest

from kiosk.bench import qr as bench
from kiosk.bench.harness import BenchOptions


def test_quick_bench_reports_rates_against_both_baselines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "QUICK_COUNT", 6)
    results = bench.BENCHMARKS["qr.decode"](BenchOptions(quick=True))
    *decoded, codeless = results
    assert [r.baseline for r in decoded] == ["pyzbar", "zxing-cpp"] * 2
    assert [r.extra["hard"] for r in decoded] == [False, False, True, True]
    assert "moire" in decoded[2].extra["decoded_by_condition"]["kiosk"]
    assert codeless.name == "qr.decode.codeless.kiosk_vs_before_ladder"
    assert codeless.n == 6 + 3 and codeless.extra["false_reads"] == 0
    assert codeless.extra["kinds"] == {"background": 6, "face": 1, "screen_attack": 1,
                                       "nobody": 1}
    assert codeless.median > 0 and codeless.baseline_median > 0
    for r in decoded:
        assert r.n == 6 and r.unit == "ms/frame" and r.median > 0 and r.baseline_median > 0
        assert 0 <= r.extra["baseline_decode_rate"] <= 1
        assert r.extra["decode_rate"] >= (5 / 6 if not r.extra["hard"] else 0)
