"""The one control protocol: JSON lines over a UNIX socket, its server and its one client."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from hardware.sim.control import MAX_LINE, ControlError, ControlServer, SimClient, SimControlError


def handler(op: str, request: Mapping[str, Any]) -> dict[str, Any]:
    if op == "echo":
        return {"echo": request["value"]}
    if op == "refuse":
        raise ControlError("not_now", "refused on purpose")
    if op == "crash":
        raise RuntimeError("a bug")
    raise ControlError("unknown_op", op)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ControlServer]:
    srv = ControlServer(str(tmp_path / "ctl.sock"), handler, name="test").start()
    yield srv
    srv.close()


def _lines(path: str, *lines: bytes) -> list[dict[str, Any]]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(path)
        s.sendall(b"".join(lines))
        s.shutdown(socket.SHUT_WR)
        return [json.loads(line) for line in s.makefile("rb")]


def test_requests_replies_and_errors_on_one_connection(server: ControlServer) -> None:
    replies = _lines(server.path, b'{"op": "echo", "value": "\xe9\x99\x88"}\n', b"not json\n",
                     b"[1, 2]\n", b'{"op": "refuse"}\n', b'{"op": "crash"}\n',
                     b'{"op": "echo"}\n', b"\xff\n", b'{"op": "echo", "value": 1}\n')
    assert replies == [
        {"ok": True, "echo": "陈"},
        {"ok": False, "error": "bad_json", "message": "not a JSON object"},
        {"ok": False, "error": "bad_request", "message": 'expected {"op": NAME, ...}'},
        {"ok": False, "error": "not_now", "message": "refused on purpose"},
        {"ok": False, "error": "failed", "message": "RuntimeError"},
        {"ok": False, "error": "bad_request", "message": "echo: 'value'"},
        {"ok": False, "error": "not_utf8", "message": "byte 1"},
        {"ok": True, "echo": 1},
    ]


def test_client_call_raises_a_typed_refusal(server: ControlServer) -> None:
    client = SimClient(server.path)
    assert client.call("echo", value=[1, None]) == {"ok": True, "echo": [1, None]}
    with pytest.raises(SimControlError) as refused:
        client.call("refuse")
    assert (refused.value.code, refused.value.message) == ("not_now", "refused on purpose")


def test_socket_is_owner_only_and_removed_on_close(tmp_path: Path) -> None:
    srv = ControlServer(str(tmp_path / "c.sock"), handler).start()
    assert stat.S_IMODE(os.stat(srv.path).st_mode) == 0o600
    srv.close()
    assert not os.path.exists(srv.path)
    srv.close()  # twice is fine


def test_a_line_over_the_cap_is_refused_and_the_socket_serves_on(server: ControlServer) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(server.path)
        s.sendall(b"{" * (MAX_LINE + 10))  # no newline, connection kept open
        reply = json.loads(s.makefile("rb").readline())
    assert reply["ok"] is False and reply["error"] == "line_too_long"
    assert SimClient(server.path).call("echo", value="still here")["echo"] == "still here"


def test_kiosk_sim_ctl_is_the_same_client(server: ControlServer) -> None:
    def ctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kiosk.cli", "sim", "ctl", *args],
                              capture_output=True, text=True, timeout=60)

    done = ctl(server.path, "echo", "value=[1,2]")
    assert done.returncode == 0 and json.loads(done.stdout) == {"ok": True, "echo": [1, 2]}
    done = ctl(server.path, "refuse")
    assert done.returncode == 1 and json.loads(done.stdout)["error"] == "not_now"
    done = ctl(server.path + ".missing", "status")
    assert done.returncode == 2 and "no_simulator" in done.stderr
    done = ctl(server.path, "echo", "novalue")
    assert done.returncode == 2 and "KEY=VALUE" in done.stderr
