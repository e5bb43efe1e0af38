"""CupsPrinter against a real private cupsd with the AppSocket emulator behind a raw queue."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import cups

from hardware.base import DeviceStatus
from hardware.printer.driver import PrintOutcome
from tests.hardware.printer.conftest import Rig

PDF = b"%PDF-1.4\n% kiosk test document\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def _job_state(rig: Rig, job_id: int) -> int | None:
    """The job's state in CUPS; ``None`` once the driver purged it (canceled, then removed)."""
    cups.setServer(rig.cupsd.server)
    conn = cups.Connection(host="127.0.0.1", port=rig.cupsd.port)
    try:
        return int(conn.getJobAttributes(job_id, ["job-state"])["job-state"])
    except cups.IPPError as exc:
        if exc.args[0] == 1030:  # client-error-not-found
            return None
        raise


def test_print_completes_and_emulator_receives_the_bytes(rig: Rig) -> None:
    printer = rig.printer()
    try:
        assert rig.queue in printer.discover()
        assert printer.refresh().status is DeviceStatus.ONLINE
        outcome = printer.print_document("APP-1:receipt", PDF, "受理回执", 10)
        assert outcome.state == "completed" and outcome.job_id is not None
        assert rig.emulator.wait_for_jobs(1, 5)
        assert rig.emulator.jobs()[0].read_bytes() == PDF
        again = printer.print_document("APP-1:receipt", PDF, "受理回执", 10)
        assert again.state == "duplicate" and again.job_id == outcome.job_id
        assert len(rig.emulator.jobs()) == 1
        assert printer.counters["prints"] == 1
    finally:
        printer.close()
    journal = (rig.state_dir / "print-journal.sqlite3").read_bytes()
    assert b"APP-1" not in journal  # doc ids are hashed, never stored


def test_paper_out_mid_job_times_out_cleanly_and_prints_once_after_refill(rig: Rig) -> None:
    printer = rig.printer()
    try:
        rig.emulator.set_fault("paper_out")
        t0 = time.monotonic()
        outcome = printer.print_document("APP-2:result", PDF, "result", 2.0)
        assert outcome.state == "timeout"
        assert outcome.message_key == "printer.not_finishing"
        assert time.monotonic() - t0 < 4.5
        assert outcome.job_id is not None and _job_state(rig, outcome.job_id) is None  # canceled
        rig.emulator.set_fault(None)  # paper refilled: the stalled job is lost, not printed
        assert rig.emulator.wait_for(lambda: len(rig.emulator.partial_jobs()) >= 1, 5)
        assert rig.emulator.jobs() == []
        retry = printer.print_document("APP-2:result", PDF, "result", 10)
        assert retry.state == "completed"
        assert printer.print_document("APP-2:result", PDF, "result", 10).state == "duplicate"
        assert len(rig.emulator.jobs()) == 1
    finally:
        printer.close()


def test_unreachable_printer_gives_timeout_within_the_deadline(rig: Rig) -> None:
    printer = rig.printer(probe_device=False)  # CUPS' own view: it cannot tell
    try:
        rig.emulator.set_fault("offline")
        t0 = time.monotonic()
        outcome = printer.print_document("APP-3:receipt", PDF, "r", 1.5)
        assert outcome.state == "timeout"
        assert outcome.message_key == "printer.unreachable"
        assert time.monotonic() - t0 < 4.0
        assert outcome.job_id is not None and _job_state(rig, outcome.job_id) is None
    finally:
        printer.close()
    probing = rig.printer()  # with the device probe the status says so before printing
    try:
        state = probing.refresh()
        assert state.status is DeviceStatus.OFFLINE and "offline-report" in state.reasons
        fast = probing.print_document("APP-3:receipt", PDF, "r", 5)
        assert fast.state == "aborted" and fast.job_id is None
        assert fast.message_key == "printer.offline"
        page = probing.test_page(1.5)  # a test page tries anyway, and times out
        assert page.state == "timeout" and page.elapsed_ms < 4000
    finally:
        probing.close()
    assert rig.emulator.jobs() == []


def test_queue_paused_fails_fast_and_prints_nothing(rig: Rig) -> None:
    printer = rig.printer()
    try:
        rig.cupsd.pause_queue(rig.queue)
        state = printer.refresh()
        assert state.status is DeviceStatus.OFFLINE
        assert "paused" in state.reasons and state.message_key == "printer.paused"
        outcome = printer.print_document("APP-4:receipt", PDF, "r", 5)
        assert outcome.state == "aborted" and outcome.message_key == "printer.paused"
        assert printer.status_report()["jobs_pending"] == 0
        rig.cupsd.resume_queue(rig.queue)
        assert printer.refresh().status is DeviceStatus.ONLINE
        assert printer.print_document("APP-4:receipt", PDF, "r", 10).state == "completed"
        assert len(rig.emulator.jobs()) == 1
    finally:
        printer.close()


def test_cupsd_stopped_is_offline_and_recovers(rig: Rig) -> None:
    printer = rig.printer()
    try:
        rig.cupsd.stop()
        state = printer.refresh()
        assert state.status is DeviceStatus.OFFLINE
        assert printer.details["reachable"] is False
        t0 = time.monotonic()
        outcome = printer.print_document("APP-5:receipt", PDF, "r", 5)
        assert outcome.state == "aborted" and outcome.message_key == "printer.cups_unreachable"
        assert time.monotonic() - t0 < 2.0
        rig.cupsd.start()
        assert printer.refresh().status is DeviceStatus.ONLINE
        assert printer.print_document("APP-5:receipt", PDF, "r", 10).state == "completed"
        assert len(rig.emulator.jobs()) == 1
    finally:
        printer.close()


def test_vanished_queue_is_debounced(rig: Rig) -> None:
    now = [100.0]
    printer = rig.printer(debounce_s=5.0)
    printer._clock = lambda: now[0]
    try:
        assert printer.refresh().status is DeviceStatus.ONLINE
        rig.cupsd.remove_queue(rig.queue)
        assert printer.refresh().status is DeviceStatus.ONLINE  # a blip: keep the last state
        assert printer.details["flapping"] is True
        now[0] += 6.0
        state = printer.refresh()
        assert state.status is DeviceStatus.NO_DEVICE
        assert state.message_key == "printer.queue_missing"
    finally:
        printer.close()


def test_restart_never_prints_twice(rig: Rig) -> None:
    # crash after the job id was recorded, before its outcome was known
    first = rig.printer()
    key = first.journal.key("APP-6:receipt")
    entry = first.journal.begin(key)
    job_id = first._submit(entry, PDF, time.monotonic() + 10)
    assert isinstance(job_id, int)
    first.journal.update(key, "submitted", job_id)
    first.close()
    # crash after the request reached CUPS but before its answer was recorded
    second = rig.printer()
    key7 = second.journal.key("APP-7:receipt")
    tagged = second.journal.begin(key7)
    cups.setServer(rig.cupsd.server)
    conn = cups.Connection(host="127.0.0.1", port=rig.cupsd.port)
    path = rig.state_dir / "doc.pdf"
    path.write_bytes(PDF)
    conn.printFile(rig.queue, str(path), tagged.job_tag, {})
    # crash after the journal write, before anything reached CUPS
    second.journal.begin(second.journal.key("APP-8:receipt"))
    second.close()
    assert rig.emulator.wait_for_jobs(2, 10)

    restarted = rig.printer()
    try:
        six = restarted.print_document("APP-6:receipt", PDF, "r", 10)
        assert six.state == "duplicate" and six.job_id == job_id
        assert restarted.print_document("APP-7:receipt", PDF, "r", 10).state == "duplicate"
        assert restarted.print_document("APP-8:receipt", PDF, "r", 10).state == "completed"
        assert restarted.print_document("APP-8:receipt", PDF, "r", 10).state == "duplicate"
    finally:
        restarted.close()
    assert len(rig.emulator.jobs()) == 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_emulator_process_killed_mid_job(rig: Rig, tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from kiosk.cli import main; main()", "sim", "printer",
         "--port", str(port), "--spool", str(tmp_path / "sim-spool"), "--fault", "hang"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["port"] == port
        queue = rig.queue + "k"
        rig.cupsd.add_raw_queue(queue, f"socket://127.0.0.1:{port}")
        printer = rig.printer(queue=queue, probe_device=False)
        result: list[PrintOutcome] = []
        # Larger than the socket buffers, so the backend is still writing when the printer
        # dies. (A job that already sits whole in the buffers is reported completed by CUPS:
        # AppSocket has no acknowledgement, nothing above it can tell.)
        big = PDF * 400
        worker = threading.Thread(
            target=lambda: result.append(printer.print_document("APP-9:r", big, "r", 4)))
        worker.start()
        deadline = time.monotonic() + 5
        while printer.status_report()["jobs_pending"] == 0 and time.monotonic() < deadline:
            threading.Event().wait(0.05)
        proc.kill()  # the printer dies with the job in progress
        proc.wait(5)
        worker.join(10)
        outcome = result[0]
        assert outcome.state in ("aborted", "timeout")
        assert outcome.message_key is not None
        assert not list((tmp_path / "sim-spool").glob("*.prn"))
        printer.close()
        probing = rig.printer(queue=queue)
        assert probing.refresh().status is DeviceStatus.OFFLINE  # the device port is dead
        probing.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
