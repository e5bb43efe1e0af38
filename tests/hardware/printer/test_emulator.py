"""The AppSocket emulator on its own: jobs, faults, control socket."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from hardware.printer.emulator import PrinterEmulator, control


def _send(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        sock.recv(1)


def test_jobs_faults_and_control(tmp_path: Path) -> None:
    with PrinterEmulator(tmp_path, control_port=0) as emu:
        assert emu.control_port is not None
        _send(emu.port, b"job one")
        assert emu.wait_for_jobs(1, 5)
        assert emu.jobs()[0].read_bytes() == b"job one"
        assert control(emu.control_port, "FAULT offline") == "OK offline"
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", emu.port), timeout=2).close()
        assert json.loads(control(emu.control_port, "STATUS"))["fault"] == "offline"
        assert control(emu.control_port, "FAULT bogus").startswith("ERR")
        control(emu.control_port, "FAULT paper_out")
        sock = socket.create_connection(("127.0.0.1", emu.port), timeout=5)
        sock.sendall(b"x" * 1000)
        assert emu.wait_for(lambda: emu.active == 1, 5)
        emu.set_fault(None)  # refilled: the stalled job is dropped, not printed
        assert emu.wait_for(lambda: len(emu.partial_jobs()) == 1, 5)
        sock.close()
        assert len(emu.partial_jobs()[0].read_bytes()) == emu.paper_out_after
        _send(emu.port, b"job two")
        assert emu.wait_for_jobs(2, 5)
        assert [p.name for p in emu.jobs()] == ["job-0001.prn", "job-0003.prn"]
