"""The ``diag.report`` benchmark runs over the simulated kiosk (registered, complete reports,
its same-run baseline and ratio), so ``scripts/bench`` keeps reporting it."""

from __future__ import annotations

import json

from kiosk.bench.cli import available
from kiosk.bench.harness import BenchOptions
from kiosk.diag.bench import bench_report


def test_diag_report_benchmark_over_the_simulated_kiosk() -> None:
    assert "diag.report" in available()
    results = bench_report(BenchOptions(quick=True))
    assert [r.name for r in results] == ["diag.report.internal", "diag.report.external",
                                         "diag.report.external_print"]
    for result in results:
        line = json.loads(result.json())
        assert line["unit"] == "ms" and line["n"] >= 1
        assert line["median"] > 0 and line["baseline_median"] > 0 and line["ratio"] > 0
        assert line["extra"]["devices"] == ["idcard", "qr", "camera", "printer"]
        assert line["extra"]["within_goal"], line
    steps = results[2].extra["step_median_ms"]
    assert set(steps) == {"idcard", "qr", "camera", "printer", "backend", "outbox", "host"}
    assert steps["printer"] > steps["qr"]  # the test page is in the printer's lane
