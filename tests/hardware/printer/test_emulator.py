"""The AppSocket emulator on its own (jobs, faults) and the printer simulator behind a private
cupsd, controlled through its socket like every simulator."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hardware.base import DeviceStatus
from hardware.context import DeviceContext
from hardware.events import JobProgress
from hardware.printer.config import PrinterConfig
from hardware.printer.emulator import PrinterEmulator
from hardware.printer.factory import create
from hardware.sim.control import ControlServer, SimClient, SimControlError

PDF = b"%PDF-1.4\n" + b"0" * 500


def _send(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        sock.recv(1)


def test_jobs_faults_and_control(tmp_path: Path) -> None:
    with PrinterEmulator(tmp_path / "spool") as emu:
        server = ControlServer(str(tmp_path / "ctl.sock"), emu.control).start()
        control = SimClient(server.path)
        try:
            _send(emu.port, b"job one")
            assert emu.wait_for_jobs(1, 5)
            assert emu.jobs()[0].read_bytes() == b"job one"
            assert control.call("fault", kind="offline")["fault"] == "offline"
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", emu.port), timeout=2).close()
            assert control.call("status")["fault"] == "offline"
            with pytest.raises(SimControlError) as refused:
                control.call("fault", kind="bogus")
            assert refused.value.code == "unknown_fault"
            control.call("fault", kind="paper_out")
            sock = socket.create_connection(("127.0.0.1", emu.port), timeout=5)
            sock.sendall(b"x" * 1000)
            assert emu.wait_for(lambda: emu.active == 1, 5)
            control.call("fault", kind="none")  # refilled: the stalled job is dropped
            assert emu.wait_for(lambda: len(emu.partial_jobs()) == 1, 5)
            sock.close()
            assert len(emu.partial_jobs()[0].read_bytes()) == emu.paper_out_after
            _send(emu.port, b"job two")
            jobs = control.call("jobs", wait_for=2, timeout=5)["jobs"]
            assert [Path(p).name for p in jobs] == ["job-0001.prn", "job-0003.prn"]
        finally:
            server.close()


def test_sim_printer_url_behind_a_private_cupsd(tmp_path: Path) -> None:
    ctx = DeviceContext(var_dir=tmp_path / "var", kiosk_id="k-test")
    printer = create(PrinterConfig(queue="simq", cups_server="sim://printer", state_dir=str(
        tmp_path / "state"), probe_timeout_s=1.0, debounce_s=1.0), ctx)
    events: list[object] = []
    try:
        printer.start(events.append)
        assert printer.status is DeviceStatus.ONLINE
        assert printer.inventory()["simulated"] is True
        assert printer.inventory()["device_uri"].startswith("socket://127.0.0.1:")
        control = SimClient(ctx.sims.controls()["printer"])
        outcome = printer.print_document("doc-1", PDF, "t", 20)
        assert outcome.state == "completed"
        jobs = control.call("jobs", wait_for=1, timeout=10)["jobs"]
        assert Path(jobs[0]).read_bytes() == PDF
        assert Path(jobs[0]).parent == ctx.var_dir / "printer-spool"
        progress = [e for e in events if isinstance(e, JobProgress)]
        assert [p.state for p in progress] == ["submitted", "completed"]
        assert progress[0].job_id == outcome.job_id
    finally:
        printer.close()
    assert not Path(ctx.sims.controls()["printer"]).exists()  # closed with the printer
    ctx.sims.close()


def test_sim_printer_refused_where_simulation_is_not_allowed(tmp_path: Path) -> None:
    from hardware.sim.kit import SimulationRefused

    with pytest.raises(SimulationRefused):
        create(PrinterConfig(cups_server="sim://printer"),
               DeviceContext(var_dir=tmp_path, allow_simulation=False))
