"""Paper out through the whole printing path of the simulator: the driver, the private cupsd
(real), its AppSocket backend with PJL status, and the printer emulator. The printer runs out of
paper part-way through a job: CUPS shows ``media-empty-error`` and keeps the job, the driver
and the readiness report say "paper out — load A4 paper in tray 1", and once paper is loaded
the job finishes, printed once. A job the kiosk gave up on while the paper was out is never
printed later; the technician's test page after loading paper brings the printer back."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cups
import pytest

from hardware.base import DeviceStatus
from hardware.context import DeviceContext
from hardware.events import JobProgress
from hardware.printer.config import PrinterConfig
from hardware.printer.driver import CupsPrinter
from hardware.printer.factory import create
from hardware.roles import PrintOutcome
from hardware.sim.control import SimClient
from kiosk.config.schema import KioskConfig
from kiosk.diag.report import build_report
from tests.kiosk.diag.conftest import StandIn, host_facts, reachable

# a document larger than the part printed before the paper runs out (paper_out_after)
PDF = b"%PDF-1.4\n% kiosk result\n" + bytes(range(256)) * 200 + b"\n%%EOF\n"
PAPER_OUT = "paper out — load A4 paper in tray 1"


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` until it holds (a deadline, never a fixed sleep)."""
    end = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() >= end:
            raise AssertionError(f"timed out waiting for {what}")
        pause.wait(0.05)


@dataclass
class Sim:
    printer: CupsPrinter
    control: SimClient
    events: list[object]
    var_dir: Path

    def jobs(self) -> tuple[list[Path], list[Path]]:
        reply = self.control.call("jobs")
        return [Path(p) for p in reply["jobs"]], [Path(p) for p in reply["partial"]]

    def submitted(self) -> list[int]:
        return [e.job_id for e in list(self.events)
                if isinstance(e, JobProgress) and e.state == "submitted" and e.job_id]

    def cups_job(self, job_id: int) -> dict[str, Any]:
        server = self.printer.transport.server
        host, port = server.rsplit(":", 1)
        cups.setServer(server)
        conn = cups.Connection(host=host, port=int(port))
        attrs: dict[str, Any] = conn.getJobAttributes(job_id, ["job-state",
                                                               "job-printer-state-message"])
        return attrs


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    ctx = DeviceContext(var_dir=tmp_path / "var", kiosk_id="k-paper")
    printer = create(PrinterConfig(
        queue="kiosk-sim", cups_server="sim://printer?paper_out_after=512",
        state_dir=str(tmp_path / "state"), probe_timeout_s=1.0, debounce_s=1.0,
        poll_interval_s=0.2), ctx)
    events: list[object] = []
    try:
        printer.start(events.append)
        yield Sim(printer, SimClient(ctx.sims.controls()["printer"]), events, tmp_path / "var")
    finally:
        printer.close()


def _report(sim: Sim) -> Any:
    cfg = KioskConfig.model_validate({"kiosk": {"id": "k-paper"}, "var_dir": str(sim.var_dir),
                                      "service": {"external_check_s": 5.0}})
    now = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    devices = [*(StandIn(n) for n in ("idcard", "qr", "camera")), sim.printer]
    return build_report(devices, level="external", backend_probe=reachable(),
                        outbox_stats=None, host=host_facts(str(sim.var_dir)), counters=None,
                        cfg=cfg, clock=lambda: now)


def _print_in_background(sim: Sim, doc_id: str, deadline_s: float
                         ) -> tuple[threading.Thread, list[PrintOutcome]]:
    outcomes: list[PrintOutcome] = []
    thread = threading.Thread(target=lambda: outcomes.append(
        sim.printer.print_document(doc_id, PDF, "result", deadline_s)), daemon=True)
    thread.start()
    return thread, outcomes


def test_paper_out_mid_job_is_reported_kept_and_printed_once_after_loading(sim: Sim) -> None:
    assert sim.printer.status is DeviceStatus.ONLINE
    sim.control.call("fault", kind="paper_out")  # the tray runs empty after 512 bytes
    thread, outcomes = _print_in_background(sim, "APP-7:result", 60)
    wait_for(lambda: sim.printer.details.get("paper") == "out", 20, "paper out in CUPS")
    # what CUPS says, the device model and the readiness report
    assert "media-empty-error" in sim.printer.details["reasons"]
    assert sim.printer.status is DeviceStatus.HARDWARE_ERROR
    assert sim.printer.details["message_key"] == "printer.paper_out"
    report = _report(sim)
    printer = next(d for d in report.devices if d.name == "printer")
    assert PAPER_OUT in printer.fixes and report.verdict == "degraded"
    assert any(r.startswith(f"printer: {PAPER_OUT}") for r in report.reasons)  # first
    # CUPS keeps the job, processing, with part of it printed
    (job_id,) = sim.submitted()
    assert sim.cups_job(job_id)["job-state"] == 5
    assert outcomes == [] and thread.is_alive()
    assert sim.jobs() == ([], [])
    # paper loaded: the same job goes on and completes, once
    sim.control.call("fault", kind="none")
    thread.join(30)
    assert [o.state for o in outcomes] == ["completed"]
    assert outcomes[0].job_id == job_id
    printed, partial = sim.jobs()
    assert partial == [] and [p.read_bytes() for p in printed] == [PDF]
    wait_for(lambda: sim.printer.status is DeviceStatus.ONLINE, 10, "printer ready again")
    assert sim.printer.details["paper"] == "ok"
    assert _report(sim).verdict == "ready"
    again = sim.printer.print_document("APP-7:result", PDF, "result", 10)
    assert again.state == "duplicate" and len(sim.jobs()[0]) == 1


def test_a_job_given_up_while_out_of_paper_never_prints_later(sim: Sim) -> None:
    sim.control.call("fault", kind="paper_out")
    t0 = time.monotonic()
    outcome = sim.printer.print_document("APP-8:result", PDF, "result", 3.0)
    assert outcome.state == "timeout" and time.monotonic() - t0 < 6.0
    # CUPS keeps the printer's last word: still out of paper, so nothing else is sent
    assert "media-empty-error" in sim.printer.refresh().reasons
    assert sim.printer.status is DeviceStatus.HARDWARE_ERROR
    refused = sim.printer.print_document("APP-9:result", PDF, "result", 5)
    assert (refused.state, refused.message_key) == ("aborted", "printer.paper_out")
    sim.control.call("fault", kind="none")  # paper loaded: the canceled job is not printed
    wait_for(lambda: bool(sim.jobs()[1]), 10, "the canceled job kept as partial")
    assert sim.jobs()[0] == []
    # the technician prints a test page: the printer says it is ready, the reason goes
    page = sim.printer.test_page(20)
    assert page.state == "completed"
    assert sim.printer.refresh().status is DeviceStatus.ONLINE
    assert sim.printer.print_document("APP-8:result", PDF, "result", 20).state == "completed"
    printed, _ = sim.jobs()
    assert len(printed) == 2 and printed[-1].read_bytes() == PDF  # test page + the result


def test_printer_off_and_wedged_keep_their_meaning_with_the_pjl_backend(sim: Sim) -> None:
    sim.control.call("fault", kind="offline")
    outcome = sim.printer.print_document("APP-10:r", PDF, "r", 5, precheck=False)
    assert (outcome.state, outcome.message_key) == ("timeout", "printer.unreachable")
    sim.control.call("fault", kind="hang")
    outcome = sim.printer.print_document("APP-11:r", PDF, "r", 3, precheck=False)
    assert (outcome.state, outcome.message_key) == ("timeout", "printer.not_finishing")
    sim.control.call("fault", kind="none")
    wait_for(lambda: sim.printer.refresh().status is DeviceStatus.ONLINE, 10, "ready")
    assert sim.printer.print_document("APP-12:r", PDF, "r", 20).state == "completed"
    printed, _ = sim.jobs()
    assert [p.read_bytes() for p in printed] == [PDF]
