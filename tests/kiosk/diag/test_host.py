"""Host facts: read from /proc and /sys (or copies of their shape), never a traceback."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kiosk.diag.host import clock_facts, collect_host, disk_facts, memory_facts, temperatures

CHRONY = """Reference ID    : C0A80001 (ntp.lan)
Stratum         : 3
System time     : 0.000123456 seconds slow of NTP time
Leap status     : Normal
"""


def _runner(outputs: dict[str, str]):  # type: ignore[no-untyped-def]
    def run(argv: Sequence[str]) -> str | None:
        return outputs.get(argv[0])

    return run


def test_real_host_facts_never_raise(tmp_path: Path) -> None:
    facts = collect_host(tmp_path / "does" / "not" / "exist")
    assert facts.disk.free_percent is not None and 0 <= facts.disk.free_percent <= 100
    assert facts.memory.total_bytes and facts.uptime_s is not None
    # this machine has no systemd, chrony or ntpd answering: unknown, with the reason
    assert facts.clock.source in ("timedatectl", "chrony", "ntp", "unknown")
    if facts.clock.source == "unknown":
        assert facts.clock.synchronized is None and "no time service" in facts.clock.detail


def test_disk_warning_under_five_percent(tmp_path: Path) -> None:
    facts = disk_facts(tmp_path)
    assert facts.warning == (facts.free_percent is not None and facts.free_percent < 5)


def test_clock_from_each_time_service() -> None:
    assert clock_facts(_runner({"timedatectl": "NTP=yes\nNTPSynchronized=no\n"})).model_dump() \
        == {"synchronized": False, "offset_s": None, "source": "timedatectl",
            "detail": "NTP not synchronized"}
    chrony = clock_facts(_runner({"chronyc": CHRONY}))
    assert chrony.source == "chrony" and chrony.synchronized
    assert chrony.offset_s == -0.000123456
    ntp = clock_facts(_runner({"ntpq": "associd=0 status=0615 leap_none, sync_ntp,\n"
                                       "offset=-1.250\n"}))
    assert ntp.source == "ntp" and ntp.synchronized and ntp.offset_s == -0.00125
    assert clock_facts(_runner({})).source == "unknown"


def test_memory_uptime_and_temperature_from_their_files(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "meminfo").write_text("MemTotal:  2048 kB\nMemFree: 512 kB\nMemAvailable: 1024 kB\n")
    (proc / "uptime").write_text("3600.52 7000.00\n")
    thermal = tmp_path / "thermal"
    for i, (kind, milli) in enumerate((("x86_pkg_temp", "47500"), ("acpitz", "garbage"))):
        zone = thermal / f"thermal_zone{i}"
        zone.mkdir(parents=True)
        (zone / "type").write_text(kind + "\n")
        (zone / "temp").write_text(milli + "\n")
    assert memory_facts(proc).model_dump() == {"total_bytes": 2048 * 1024,
                                               "available_bytes": 1024 * 1024, "detail": ""}
    temps = temperatures(thermal)
    assert [(t.sensor, t.celsius) for t in temps] == [("x86_pkg_temp", 47.5)]
    facts = collect_host(tmp_path, proc=proc, thermal=thermal, run=_runner({}))
    assert facts.uptime_s == 3600.5
    assert memory_facts(tmp_path / "none").detail.startswith("unknown")
    assert temperatures(tmp_path / "none") == []
