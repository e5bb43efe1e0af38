"""Technician commands against a `kiosk sim idcard` process, over its pty."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from hardware.idcard.cli import diag
from hardware.sim.control import SimClient, SimControlError

KIOSK = [sys.executable, "-m", "kiosk.cli"]
READ_KEYS = {"card_type", "name", "sex", "nation", "birth_date", "address", "id_number",
             "issuer", "valid_from", "valid_to", "photo_bytes", "elapsed_ms"}


def _line_reader(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    """Lines of the process's stdout, read on a thread (no select on a buffered pipe)."""
    lines: queue.Queue[str] = queue.Queue()
    stdout = proc.stdout
    assert stdout is not None

    def pump() -> None:
        for line in stdout:
            lines.put(line.strip())

    threading.Thread(target=pump, daemon=True).start()
    return lines


@pytest.fixture
def sim_process(tmp_path: Path) -> Iterator[tuple[str, str]]:
    sock = str(tmp_path / "sim.sock")
    proc = subprocess.Popen([*KIOSK, "sim", "idcard", "--insert", "chen", "--control", sock],
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[3])
    try:
        lines = _line_reader(proc)
        path = lines.get(timeout=40)
        assert lines.get(timeout=10) == f"control: {sock}"
        yield path, sock
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert not os.path.exists(sock)


def test_diag_read_and_sam_id_against_sim_process(sim_process: tuple[str, str]) -> None:
    path, sock = sim_process
    assert path.startswith("/dev/pts/")
    runner = CliRunner()
    result = runner.invoke(diag, ["read", "--port", path, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == READ_KEYS
    assert data["name"] == "陈美玲" and data["valid_to"] == "长期" and data["photo_bytes"] == 1024
    assert data["birth_date"] == "1958-03-12" and data["id_number"] == "440605195803121228"
    assert isinstance(data["elapsed_ms"], float)

    result = runner.invoke(diag, ["sam-id", "--port", path, "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["sam_id"] == "05.01-20180402-0000123456-2018040201"

    # the read card is still in the field: no new card until it is placed again
    result = runner.invoke(diag, ["read", "--port", path, "--timeout", "0.3", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output) == {"error": "no_card", "message": "no card in the field"}

    control = SimClient(sock)
    control.call("insert", key="lee")
    assert control.call("status")["card"] == "lee"
    with pytest.raises(SimControlError) as refused:
        control.call("insert", key="nobody")
    assert refused.value.code == "no_such_card"
    control.call("fault", kind="sam_60")
    result = runner.invoke(diag, ["read", "--port", path, "--timeout", "1", "--json"])
    assert result.exit_code == 1 and json.loads(result.output)["error"] == "sam_error"
    control.call("fault", kind="none")

    # the real entry point, once
    proc = subprocess.run([*KIOSK, "diag", "idcard", "read", "--port", path, "--baud", "115200",
                           "--timeout", "3", "--json"], capture_output=True, text=True,
                          timeout=30, cwd=Path(__file__).parents[3])
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["card_type"] == "hk_mo_tw" and data["nation"] is None


def test_diag_errors_are_json() -> None:
    runner = CliRunner()
    result = runner.invoke(diag, ["read", "--port", "/dev/no-such-reader", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["error"] == "no_device"
    result = runner.invoke(diag, ["read", "--port", "sim://idcard?fault=checksum&insert=chen",
                                  "--timeout", "1", "--json"])
    assert result.exit_code == 1 and json.loads(result.output)["error"] == "checksum"
    result = runner.invoke(diag, ["sam-id", "--port", "sim://idcard"])
    assert result.exit_code == 0 and result.output.startswith("sam_id: 05.01-")
    result = runner.invoke(diag, ["sam-id", "--port", "sim://idcard?nope=1", "--json"])
    assert result.exit_code == 1 and json.loads(result.output)["error"] == "bad_port"
