"""The fleet benchmark runs end to end on a small fleet: real agents in worker processes, a
private mosquitto, the push, every kiosk's report, the baseline, CPU and memory figures."""

from __future__ import annotations

from pathlib import Path

from kiosk.bench.harness import BenchOptions
from kiosk.bench.registry import MODULES
from kiosk.fleet import bench


def test_a_small_push_is_measured_against_the_broker_round_trip(tmp_path: Path) -> None:
    settings = bench.FleetBenchSettings(sizes=(30,), processes=2, work_dir=str(tmp_path))
    [result] = bench.bench_push(BenchOptions(quick=True), settings)
    extra = result.extra
    assert result.name == "fleet.push.30" and result.unit == "ms" and result.n == 30
    assert extra["applied"] == 30 and extra["missing"] == 0
    assert 0 < result.median <= result.p95 <= extra["p99_ms"] <= extra["last_ms"]
    assert 0 < result.baseline_median <= extra["baseline_last_ms"]
    assert result.ratio == result.median / result.baseline_median
    assert extra["agent_processes"] == 2 and extra["agents_cpu_s"] > 0
    assert extra["agents_peak_rss_mib"] > 0 and extra["broker_peak_rss_mib"] > 0
    assert extra["state_on"] == str(tmp_path)
    assert list(tmp_path.iterdir()) == []  # the run's folder is gone


def test_the_benchmark_is_registered_and_sized_by_the_environment() -> None:
    assert "kiosk.fleet.bench" in MODULES and "fleet.push" in bench.BENCHMARKS
    assert bench.FleetBenchSettings.from_env(False, {}).sizes == (500, 1000, 2000)
    assert bench.FleetBenchSettings.from_env(True, {}).sizes == (100,)
    given = bench.FleetBenchSettings.from_env(True, {
        "KIOSK_BENCH_FLEET_N": "50,70", "KIOSK_BENCH_FLEET_BROKER": "mqtts://mq.example:8883",
        "KIOSK_BENCH_FLEET_CREDENTIALS": "/etc/ops.json"})
    assert (given.sizes, given.broker_url, given.credentials) == (
        (50, 70), "mqtts://mq.example:8883", "/etc/ops.json")
