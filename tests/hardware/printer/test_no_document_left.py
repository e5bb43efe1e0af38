"""Printed documents leave no file behind: not in the CUPS spool, not in a temp or RAM folder,
not after a kill -9 of the kiosk mid-print; private folders and files are owner-only."""

from __future__ import annotations

import contextlib
import grp
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cups
import pytest

from hardware.printer.config import PrinterConfig
from hardware.printer.cupsd import PrivateCupsd
from hardware.printer.driver import CupsPrinter, PrintOutcome
from hardware.printer.emulator import PrinterEmulator
from tests.hardware.printer.conftest import Rig
from tests.harness.peers import wait_until

DEMO = "陈美玲 440605195803121228".encode()  # the demo citizen on a result document


def _document() -> tuple[bytes, bytes]:
    """A result PDF with the demo name and ID number, and the marker to search for."""
    marker = DEMO + b" " + uuid.uuid4().hex.encode()
    body = b"%PDF-1.4\n% result\n(" + marker + b") Tj\n" + bytes(range(256)) * 30
    return body + b"\n%%EOF\n", marker


def _holding(marker: bytes, *roots: Path) -> list[Path]:
    """Every file under ``roots`` whose bytes contain ``marker``."""
    found: list[Path] = []
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            for name in files:
                path = Path(folder, name)
                try:
                    if marker in path.read_bytes():
                        found.append(path)
                except OSError:
                    continue
    return found


def _temp_roots() -> list[Path]:
    """RAM and temp folders a driver could have used (top level of /tmp: its own files)."""
    roots = [Path("/dev/shm")] if os.path.isdir("/dev/shm") else []
    tmp = Path(tempfile.gettempdir())
    return roots + [p for p in tmp.glob("kiosk-*")]


def _conn(daemon: PrivateCupsd) -> cups.Connection:
    cups.setServer(daemon.server)
    return cups.Connection(host="127.0.0.1", port=daemon.port)


def test_printed_job_leaves_no_document_in_the_spool_or_temp(rig: Rig) -> None:
    pdf, marker = _document()
    printer = rig.printer()
    try:
        outcome = printer.print_document("APP-31:result", pdf, "result", 10)
        assert outcome.state == "completed"
        assert rig.emulator.wait_for_jobs(1, 5)
        assert _holding(marker, rig.cupsd.root, *_temp_roots()) == []
        assert printer.print_document("APP-31:result", pdf, "result", 10).state == "duplicate"
    finally:
        printer.close()
    assert len(rig.emulator.jobs()) == 1


@pytest.fixture(scope="module")
def keeping_cupsd() -> Iterator[PrivateCupsd]:
    """A cupsd that keeps job files like a stock CUPS (PreserveJobFiles 1 day)."""
    daemon = PrivateCupsd(preserve_job_files="86400")
    daemon.start()
    yield daemon
    daemon.cleanup()


@pytest.fixture
def keeping(keeping_cupsd: PrivateCupsd, tmp_path: Path) -> Iterator[Rig]:
    emulator = PrinterEmulator(tmp_path / "spool").start()
    queue = f"keep{uuid.uuid4().hex[:8]}"
    keeping_cupsd.add_raw_queue(queue, f"socket://127.0.0.1:{emulator.port}")
    yield Rig(keeping_cupsd, emulator, queue, tmp_path / "state")
    emulator.stop()


def test_driver_purges_its_finished_jobs_on_a_cups_that_keeps_files(keeping: Rig) -> None:
    pdf, marker = _document()
    printer = keeping.printer()
    try:
        done = printer.print_document("APP-32:result", pdf, "result", 10)
        assert done.state == "completed" and done.job_id is not None
        assert _holding(marker, keeping.cupsd.root) == []
        with pytest.raises(cups.IPPError):  # purged: no document and no job left in CUPS
            _conn(keeping.cupsd).getJobAttributes(done.job_id, ["job-state"])
        assert printer.print_document("APP-32:result", pdf, "result", 10).state == "duplicate"

        keeping.emulator.set_fault("paper_out")  # a job that never finishes: canceled, purged
        stuck = printer.print_document("APP-33:result", pdf, "result", 1.5)
        assert stuck.state == "timeout"
        assert _holding(marker, keeping.cupsd.root) == []
        keeping.emulator.set_fault(None)
        retry = printer.print_document("APP-33:result", pdf, "result", 10)
        assert retry.state == "completed"
        assert _holding(marker, keeping.cupsd.root) == []
    finally:
        printer.close()
    assert len(keeping.emulator.jobs()) == 2


def test_start_purges_finished_jobs_a_crash_left_and_keeps_the_guarantee(keeping: Rig) -> None:
    pdf, marker = _document()
    first = keeping.printer()
    key = first.journal.key("APP-34:result")
    entry = first.journal.begin(key)
    job_id = first._submit(entry, pdf, time.monotonic() + 30)  # then crashed: outcome unknown
    assert isinstance(job_id, int)
    first.journal.update(key, "submitted", job_id)
    first.close()
    assert keeping.emulator.wait_for_jobs(1, 10)
    conn = _conn(keeping.cupsd)
    wait_until(lambda: int(conn.getJobAttributes(job_id, ["job-state"])["job-state"]) == 9,
               10, "job completed")
    assert _holding(marker, keeping.cupsd.root) != []  # a stock CUPS keeps it

    restarted = keeping.printer(poll_interval_s=60)
    try:
        restarted.start(lambda _event: None)
        assert _holding(marker, keeping.cupsd.root) == []
        entry_after = restarted.journal.get(key)
        assert entry_after is not None and entry_after.state == "completed"
        again = restarted.print_document("APP-34:result", pdf, "result", 10)
        assert again.state == "duplicate" and again.job_id == job_id
    finally:
        restarted.close()
    assert len(keeping.emulator.jobs()) == 1


def test_document_never_touches_a_temp_file_while_cups_is_slow(rig: Rig) -> None:
    pdf, marker = _document()
    printer = rig.printer()
    assert rig.cupsd.proc is not None
    pid = rig.cupsd.proc.pid
    result: list[PrintOutcome] = []
    os.kill(pid, signal.SIGSTOP)  # cupsd accepts connections but answers nothing
    try:
        worker = threading.Thread(target=lambda: result.append(
            printer.print_document("APP-35:result", pdf, "result", 4, precheck=False)))
        worker.start()
        wait_until(lambda: printer.journal.count("submitting") == 1, 5, "submission started")
        while worker.is_alive():  # the whole time the request is in flight
            assert _holding(marker, *_temp_roots()) == []
            worker.join(0.05)
    finally:
        os.kill(pid, signal.SIGCONT)
    try:
        assert result[0].state == "timeout"  # the outcome is unknown: never printed again
        assert rig.emulator.wait_for_jobs(1, 10)  # the late upload went through
        again = printer.print_document("APP-35:result", pdf, "result", 10)
        assert again.state == "duplicate"
        assert _holding(marker, rig.cupsd.root, *_temp_roots()) == []
    finally:
        printer.close()
    assert len(rig.emulator.jobs()) == 1


_KIOSK = """
import json, sys, threading
from pathlib import Path
from typing import Any
from hardware.printer.config import PrinterConfig
from hardware.printer.cupsd import PrivateCupsd
from hardware.printer.driver import CupsPrinter, PrintOutcome
from hardware.printer.emulator import PrinterEmulator
work = Path(sys.argv[1])
emulator = PrinterEmulator(work / "paper", fault="hang").start()
cupsd = PrivateCupsd().start()
cupsd.add_raw_queue("kiosk", f"socket://127.0.0.1:{emulator.port}")
printer = CupsPrinter(PrinterConfig(queue="kiosk"), server=cupsd.server,
                      state_dir=work / "state")
pdf = (work / "doc.pdf").read_bytes()
threading.Thread(target=printer.print_document, args=("APP-36:result", pdf, "r", 60),
                 daemon=True).start()
print(json.dumps({"root": str(cupsd.root), "cupsd": cupsd.proc.pid,
                  "server": cupsd.server}), flush=True)
threading.Event().wait()
"""


def test_kill_9_mid_print_leaves_nothing_after_the_next_start(tmp_path: Path) -> None:
    pdf, marker = _document()
    (tmp_path / "doc.pdf").write_bytes(pdf)
    proc = subprocess.Popen([sys.executable, "-c", _KIOSK, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    info: dict[str, Any] = {"cupsd": -1}
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        root = Path(info["root"])
        wait_until(lambda: bool(_holding(marker, root)), 10, "job spooled")
        os.kill(info["cupsd"], signal.SIGKILL)  # a power cut mid-print: cupsd and kiosk die
        proc.kill()  # (a graceful cupsd would drop the document itself: PreserveJobFiles No)
        proc.wait(5)
        wait_until(lambda: not Path(f"/proc/{info['cupsd']}").exists()
                   or "Z" in Path(f"/proc/{info['cupsd']}/stat").read_text().split()[2],
                   15, "its cupsd gone")
        (tmp_path / "doc.pdf").unlink()
        assert _holding(marker, root) != []  # what a kill -9 leaves behind
        following = PrivateCupsd()  # the next start cleans what dead processes left
        following.start()
        following.cleanup()
        assert not root.exists()
        assert _holding(marker, *_temp_roots()) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        _end_session_of(info["cupsd"])


def _end_session_of(leader: int) -> None:
    """Kill what is left of the killed cupsd's session (the backend it had started)."""
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == leader:  # field 6 (session id), counted after the name
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(stat_file.parent.name), signal.SIGKILL)


def test_a_live_cupsd_root_is_never_swept(cupsd: PrivateCupsd) -> None:
    if not cupsd.running():
        cupsd.start()
    other = PrivateCupsd()
    other.start()
    other.cleanup()
    assert cupsd.root.exists() and cupsd.running()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_folders_and_files_are_owner_only(rig: Rig, tmp_path: Path) -> None:
    root = rig.cupsd.root
    assert _mode(root) & 0o007 == 0  # nobody else may enter the private cupsd's root
    assert _mode(root / "log") == 0o700
    if os.geteuid() == 0:  # cupsd's backends run as lp: lp may search, nobody else
        assert root.stat().st_gid == grp.getgrnam("lp").gr_gid and _mode(root) == 0o710
    spool = root / "spool"
    assert _mode(spool) & 0o007 == 0
    rig.emulator.set_fault("hang")
    printer = rig.printer()
    pdf, _ = _document()
    try:
        worker = threading.Thread(target=printer.print_document,
                                  args=("APP-37:result", pdf, "r", 2))
        worker.start()
        wait_until(lambda: any(spool.glob("d*")), 5, "job spooled")
        for doc in spool.glob("d*"):
            assert _mode(doc) & 0o007 == 0  # cupsd: 0640 root:lp, never world-readable
        worker.join(10)
    finally:
        rig.emulator.set_fault(None)
        printer.close()
    state = rig.state_dir
    assert _mode(state) == 0o700
    for name in ("print-journal.sqlite3", "print-journal.sqlite3-wal",
                 "print-journal.sqlite3-shm"):
        if (state / name).exists():
            assert _mode(state / name) == 0o600, name
    paper = PrinterEmulator(tmp_path / "paper").start()
    try:
        queue = rig.queue + "p"
        rig.cupsd.add_raw_queue(queue, f"socket://127.0.0.1:{paper.port}")
        sim = CupsPrinter(PrinterConfig(queue=queue), server=rig.cupsd.server,
                          state_dir=tmp_path / "state2")
        try:
            assert sim.print_document("APP-38:result", pdf, "r", 10).state == "completed"
        finally:
            sim.close()
        assert paper.wait_for_jobs(1, 5)
        assert _mode(tmp_path / "paper") == 0o700
        assert all(_mode(job) == 0o600 for job in paper.jobs())
    finally:
        paper.stop()


def test_upload_cut_by_a_crash_is_purged_and_printed_once(rig: Rig) -> None:
    pdf, marker = _document()
    first = rig.printer()
    key = first.journal.key("APP-39:result")
    entry = first.journal.begin(key)
    conn = _conn(rig.cupsd)
    job_id = int(conn.createJob(rig.queue, entry.job_tag, {}))  # crash before Send-Document
    assert first.journal.set_job(key, entry.job_tag, job_id)
    first.close()
    restarted = rig.printer()
    try:
        outcome = restarted.print_document("APP-39:result", pdf, "result", 10)
        assert outcome.state == "completed" and outcome.job_id != job_id
        with pytest.raises(cups.IPPError):
            conn.getJobAttributes(job_id, ["job-state"])  # the empty job is gone
        assert restarted.print_document("APP-39:result", pdf, "r", 10).state == "duplicate"
    finally:
        restarted.close()
    assert rig.emulator.wait_for_jobs(1, 5) and len(rig.emulator.jobs()) == 1
    assert _holding(marker, rig.cupsd.root) == []


def test_start_removes_temp_pdfs_an_older_version_left(rig: Rig) -> None:
    pdf, marker = _document()
    old = Path("/dev/shm") / f"kiosk-print-{uuid.uuid4().hex[:8]}.pdf"
    old.write_bytes(pdf)
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    fresh = Path("/dev/shm") / f"kiosk-print-{uuid.uuid4().hex[:8]}.pdf"
    fresh.write_bytes(b"in use by a running older kiosk")
    try:
        rig.printer().close()
        assert not old.exists()
        assert fresh.exists()  # a file still being printed by a live process stays
    finally:
        old.unlink(missing_ok=True)
        fresh.unlink(missing_ok=True)
