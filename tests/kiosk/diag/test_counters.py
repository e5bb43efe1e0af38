"""Counters that survive restarts: private file, concurrent writers, reset, no personal data."""

from __future__ import annotations

import multiprocessing
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from hardware.base import DeviceStatus
from kiosk.diag.counters import KEEP_ERRORS, CounterError, CounterStore, watch
from tests.kiosk.diag.conftest import FixedClock, StandIn


def test_counters_survive_a_restart_and_the_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "var" / "diag-counters.sqlite"
    with CounterStore(path) as store:
        store.bump("kiosk", "sessions")
        store.bump("idcard", "reads", 2)
        store.bump("idcard", "read_failures")
        store.record_test_print("printer", False, "test page: timeout")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with CounterStore(path) as again:
        assert again.counters("idcard") == {"read_failures": 1, "reads": 2}
        assert again.all_counters()["kiosk"] == {"sessions": 1}
        last = again.last_test_print("printer")
        assert last is not None and not last.ok and last.detail == "test page: timeout"
        assert again.last_test_print("idcard") is None


def _bump_many(path: str, n: int) -> None:
    with CounterStore(path) as store:
        for _ in range(n):
            store.bump("printer", "prints")


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    CounterStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_bump_many, args=(str(path), 200)) for _ in range(2)]
    for p in procs:
        p.start()
    with CounterStore(path) as store:
        def bump_200() -> None:
            for _ in range(200):
                store.bump("printer", "prints")

        threads = [threading.Thread(target=bump_200) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
        assert store.counters("printer") == {"prints": 1000}


def test_a_bump_is_cheap(tmp_path: Path) -> None:
    with CounterStore(tmp_path / "c.sqlite") as store:
        t0 = time.perf_counter()
        for _ in range(500):
            store.bump("qr", "reads")
        per_bump_ms = (time.perf_counter() - t0) * 1000 / 500
    assert per_bump_ms < 2.0, per_bump_ms


def test_last_errors_are_kept_redacted_and_pruned(tmp_path: Path) -> None:
    clock = FixedClock(1_700_000_000.0)
    path = tmp_path / "c.sqlite"
    with CounterStore(path, clock=clock) as store:
        store.record_error("idcard", "invalid_data",
                           "card of 陈美玲 440605195803121228 unreadable")
        for i in range(KEEP_ERRORS + 5):
            clock.advance(1)
            store.record_error("idcard", "timeout", f"read {i} timed out")
        errors = store.last_errors("idcard", limit=100)
        assert len(errors) == KEEP_ERRORS
        assert errors[0].text == f"read {KEEP_ERRORS + 4} timed out"  # newest first
        assert store.counters("idcard")["errors"] == KEEP_ERRORS + 6
        store.record_error("printer", "x", "the holder 陈美玲 ID 440605195803121228")
        assert store.last_errors("printer")[0].text == "the holder ** ID **ID**"
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("c.sqlite*"))
    assert "陈美玲".encode() not in raw and b"440605195803121228" not in raw


def test_reset_all_or_some(tmp_path: Path) -> None:
    with CounterStore(tmp_path / "c.sqlite") as store:
        store.bump("idcard", "reads", 5)
        store.bump("printer", "prints", 2)
        store.record_error("printer", "media-jam", "jam")
        store.record_test_print("printer", True, "ok")
        assert store.reset(["printer"]) == 2  # prints and errors
        assert store.counters("printer") == {}
        assert store.last_errors("printer")  # kept unless asked
        assert store.counters("idcard") == {"reads": 5}
        store.reset(errors=True)
        assert store.all_counters() == {} and store.last_errors("printer") == []
        assert store.last_test_print("printer") is not None


def test_names_must_be_plain_identifiers(tmp_path: Path) -> None:
    with CounterStore(tmp_path / "c.sqlite") as store:
        for device, counter in (("陈美玲", "reads"), ("idcard", "440605195803121228"),
                                ("idcard", "reads; DROP TABLE counters")):
            with pytest.raises(CounterError):
                store.bump(device, counter)


def test_watch_counts_jams_paper_outs_and_faults_from_status_events(tmp_path: Path) -> None:
    printer = StandIn("printer")
    with CounterStore(tmp_path / "c.sqlite") as store:
        unwatch = watch(printer, store)
        printer.set_status(DeviceStatus.HARDWARE_ERROR, paper="jam",
                           message_key="printer.paper_jam")
        printer.set_status(DeviceStatus.HARDWARE_ERROR, paper="jam")  # nothing changed
        printer.set_status(DeviceStatus.ONLINE, paper="ok")
        printer.set_status(DeviceStatus.HARDWARE_ERROR, paper="out",
                           message_key="printer.paper_out")
        unwatch()
        printer.set_status(DeviceStatus.ONLINE, paper="ok")
        printer.set_status(DeviceStatus.HARDWARE_ERROR, paper="out")
        assert store.counters("printer") == {"errors": 2, "jams": 1, "paper_outs": 1}
        assert [e.text for e in store.last_errors("printer")] == ["printer.paper_out",
                                                                  "printer.paper_jam"]
