"""Hostile input on the ID-card side: a reader that streams bytes without end, a control
socket fed garbage, card text holding terminal control characters."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hardware.base import Deadline, DeviceError, InvalidData
from hardware.idcard.config import IdCardConfig
from hardware.idcard.driver import IdCardReader
from hardware.idcard.transport import SerialTransport

ROOT = Path(__file__).resolve().parents[3]
KIOSK = [sys.executable, "-m", "kiosk.cli"]
MARGIN_S = 0.5  # allowed past a deadline (one probe, scheduling on 2 shared cores)
# garbage without a preamble; a preamble with an impossible length, repeated; NUL bytes
ENDLESS_PATTERNS = ["0055ff13", "aaaaaa9669", "00"]


@pytest.fixture
def streaming_peer() -> Iterator[Callable[..., str]]:
    """Start a pty peer that sends ``HEX`` forever; returns the pty path."""
    procs: list[subprocess.Popen[str]] = []

    def start(pattern: str, rate: float = 0.0) -> str:
        proc = subprocess.Popen([sys.executable, "-m", "tests.hardware.idcard.streaming_peer",
                                 pattern, str(rate)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True, cwd=ROOT)
        procs.append(proc)
        assert proc.stdout is not None
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/"), path
        return path

    yield start
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)


def _reader(path: str, read_timeout_s: float = 1.0) -> IdCardReader:
    cfg = IdCardConfig(port=path, baud=115200, read_timeout_s=read_timeout_s,
                       poll_interval_s=0.05)
    transport = SerialTransport(path, 115200)
    transport.open()
    return IdCardReader(cfg, transport)


@pytest.mark.parametrize("pattern", ENDLESS_PATTERNS)
def test_endless_stream_ends_within_the_deadline(streaming_peer: Callable[[str], str],
                                                 pattern: str) -> None:
    reader = _reader(streaming_peer(pattern))
    try:
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(DeviceError) as err:
                reader.read_card(Deadline(1.0))
            elapsed = time.monotonic() - started
            assert elapsed < 1.0 + MARGIN_S, f"read_card took {elapsed:.2f} s"
            assert isinstance(err.value, InvalidData)
            assert err.value.detail == "invalid_data"
        assert reader.counters.get("endless_streams", 0) >= 1
        assert reader.status.value == "hardware_error"
    finally:
        reader.close()


def test_slow_endless_stream_ends_at_the_deadline(streaming_peer: Callable[..., str]) -> None:
    """Noise slower than the byte cap (a 9600 baud line): the deadline ends the read."""
    reader = _reader(streaming_peer("0055ff13", 2000.0))
    try:
        started = time.monotonic()
        with pytest.raises(InvalidData) as err:
            reader.read_card(Deadline(1.0))
        assert time.monotonic() - started < 1.0 + MARGIN_S
        assert err.value.detail == "invalid_data" and "without a valid frame" in err.value.message
    finally:
        reader.close()


def test_endless_stream_does_not_stall_the_poller(streaming_peer: Callable[[str], str]) -> None:
    reader = _reader(streaming_peer("0055ff13"), read_timeout_s=1.0)
    try:
        for _ in range(3):
            started = time.monotonic()
            events: list[object] = []
            reader.poll_once(events)
            assert time.monotonic() - started < 1.0 + MARGIN_S
            assert events == []
        assert reader.counters["poll_errors"] == 3
    finally:
        started = time.monotonic()
        reader.close()
        assert time.monotonic() - started < 1.0 + MARGIN_S


def test_diag_read_against_an_endless_stream_exits_in_time(
        streaming_peer: Callable[[str], str]) -> None:
    path = streaming_peer("0055ff13")
    started = time.monotonic()
    proc = subprocess.run([*KIOSK, "diag", "idcard", "read", "--port", path, "--baud", "115200",
                           "--timeout", "5", "--json"], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - started
    assert elapsed < 5.0 + 2.0, f"diag idcard read took {elapsed:.1f} s"  # + interpreter start
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"] == "invalid_data"
    assert "Traceback" not in proc.stderr


# -- terminal control characters from a card ----------------------------------------------
HOSTILE_NAME = "陈\x1b[2J\x9b1m\u202e玲"  # clear screen, C1 CSI, right-to-left override
HOSTILE_ADDRESS = "佛山\nid_number: 000\x07"  # a forged output line and a bell
UNSAFE = ("\x1b", "\x9b", "\u202e", "\x07")


@pytest.fixture
def hostile_deck(tmp_path: Path) -> str:
    deck = {"cards": [{"key": "evil", "card_type": "resident", "name": HOSTILE_NAME,
                       "sex": "女", "nation": "01", "birth_date": "1958-03-12",
                       "address": HOSTILE_ADDRESS, "id_number": "440605195803121228",
                       "issuer": "佛山市公安局南海分局", "valid_from": "2018-04-02",
                       "valid_to": "长期"}]}
    path = tmp_path / "deck.yaml"
    path.write_text(json.dumps(deck), encoding="utf-8")  # JSON (\u escapes) is YAML
    return f"sim://idcard?cards={path}&insert=evil"


def test_diag_read_escapes_control_characters(hostile_deck: str) -> None:
    from click.testing import CliRunner

    from hardware.idcard.cli import diag

    text = CliRunner().invoke(diag, ["read", "--port", hostile_deck])
    assert text.exit_code == 0, text.output
    assert not any(c in text.output for c in UNSAFE), repr(text.output)
    assert "name: 陈\\x1b[2J\\x9b1m\\u202e玲\n" in text.output
    assert "address: 佛山\\nid_number: 000\\x07\n" in text.output
    assert sum(line.startswith("id_number:") for line in text.output.splitlines()) == 1

    as_json = CliRunner().invoke(diag, ["read", "--port", hostile_deck, "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert not any(c in as_json.output for c in UNSAFE), repr(as_json.output)
    record = json.loads(as_json.output)
    assert record["name"] == HOSTILE_NAME and record["address"] == HOSTILE_ADDRESS  # faithful


def test_printable_keeps_text_and_escapes_the_rest() -> None:
    from hardware.diag_output import printable, to_json

    assert printable("陈美玲　Chen Mei-ling, 1958") == "陈美玲　Chen Mei-ling, 1958"
    assert printable("a\tb\x7f\u200b\ufeff\U000e0041\udcff") == \
        "a\\tb\\x7f\\u200b\\ufeff\\U000e0041\\udcff"
    assert to_json({"k": "\U000e0041\x9b"}) == '{"k": "\\udb40\\udc41\\u009b"}'
    assert json.loads(to_json({"k": "\U000e0041\x9b"})) == {"k": "\U000e0041\x9b"}


# -- the simulator's control socket -------------------------------------------------------
@pytest.fixture
def control_sim(tmp_path: Path) -> Iterator[str]:
    from hardware.idcard.simulator import IdCardSimulator

    sock = str(tmp_path / "ctl.sock")
    sim = IdCardSimulator(control_path=sock)
    sim.start()
    yield sock
    sim.stop()


def _raw_exchange(path: str, data: bytes) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(path)
        s.sendall(data)  # the connection stays open: the answer must not wait for more
        return s.makefile("rb").readline().decode("utf-8", "replace").strip()


def test_control_socket_refuses_non_utf8_and_keeps_serving(control_sim: str) -> None:
    from hardware.sim.control import SimClient

    reply = json.loads(_raw_exchange(control_sim, b'{"op": "insert", "key": "\xff\xfe"}\n'))
    assert reply["ok"] is False and reply["error"] == "not_utf8"
    client = SimClient(control_sim)
    assert client.call("status")["card"] is None
    assert client.call("insert", key="chen")["ok"] is True


def test_control_socket_caps_a_line_without_newline(control_sim: str) -> None:
    from hardware.sim.control import MAX_LINE, SimClient

    started = time.monotonic()
    reply = json.loads(_raw_exchange(control_sim, b"a" * (MAX_LINE + 100)))
    assert reply["ok"] is False and reply["error"] == "line_too_long"
    assert time.monotonic() - started < 1.0
    assert "chen" in SimClient(control_sim).call("cards")["cards"]
