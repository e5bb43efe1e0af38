"""Hostile input on the QR side: an endless line without terminator, payloads carrying a
BOM or bidi/invisible format characters."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from hardware.base import Deadline, DeviceTimeout, InvalidData
from hardware.events import CodeScanned, ScanRejected
from hardware.qr.protocol import PayloadRejected, sanitise
from hardware.qr.scanner import SerialQrScanner

from .conftest import Collector

MakeScanner = Callable[..., SerialQrScanner]


def test_endless_line_without_terminator(make_scanner: MakeScanner,
                                         collector: Collector) -> None:
    s = make_scanner(max_len=512)
    sim = s.simulator
    assert sim is not None
    stop = threading.Event()
    sent = [0]

    def stream() -> None:  # a scanner stuck sending one line without CR
        chunk = b"A" * 4096
        while not stop.is_set():
            sim.write_raw(chunk)
            sent[0] += len(chunk)

    writer = threading.Thread(target=stream, daemon=True)
    writer.start()
    try:
        collector.wait_for(lambda evs: any(isinstance(e, ScanRejected) for e in evs))
        started = time.monotonic()
        with pytest.raises(DeviceTimeout):
            s.read_code(Deadline(0.5))
        assert time.monotonic() - started < 1.0
        assert s._framer.pending <= 512 + 1  # bounded while the line goes on
    finally:
        stop.set()
        writer.join(timeout=5)
    assert sent[0] > 10 * 512
    # the stream stops: the unterminated tail goes stale and is dropped, then codes read again
    collector.wait_for(lambda e: any(getattr(x, "reason", "") == "partial" for x in e))
    sim.scan("GOOD")
    evs = collector.wait_for(lambda e: any(isinstance(x, CodeScanned) for x in e))
    assert [e.reason for e in evs if isinstance(e, ScanRejected)] == ["oversized", "partial"]
    assert [e.data for e in evs if isinstance(e, CodeScanned)] == ["GOOD"]


@pytest.mark.parametrize(("payload", "reason"), [
    ("\ufeffGZID1.abc", "bom"),
    ("GZID1.\u202eabc", "format_char"),  # right-to-left override
    ("GZID1.\u2066abc\u2069", "format_char"),  # left-to-right isolate ... pop
    ("GZID1.a\u200bbc", "format_char"),  # zero-width space
    ("GZID1.ab\u200dc", "format_char"),  # zero-width joiner
    ("GZID1.abc\ufeff", "format_char"),  # a BOM that is not leading: a zero-width no-break
    ("GZID1.\u2028abc", "format_char"),  # line separator
    ("GZID1.\ue000abc", "format_char"),  # private use
])
def test_format_characters_are_invalid_data(payload: str, reason: str) -> None:
    with pytest.raises(PayloadRejected) as err:
        sanitise(payload.encode("utf-8"))
    assert isinstance(err.value, InvalidData)
    assert err.value.detail == reason


def test_plain_and_chinese_payloads_still_pass() -> None:
    assert sanitise("粤省事-预约-1\t办理　人".encode()) == "粤省事-预约-1\t办理　人"
    assert sanitise(b"GZID1.eyJpIjoi") == "GZID1.eyJpIjoi"


def test_scanner_refuses_a_bom_payload(make_scanner: MakeScanner, collector: Collector) -> None:
    s = make_scanner()
    assert s.simulator is not None
    s.simulator.scan("\ufeffAPPT-1")
    s.simulator.scan("APPT-\u202e1")
    s.simulator.scan("APPT-2")
    evs = collector.wait_for(lambda e: any(isinstance(x, CodeScanned) for x in e))
    assert [e.reason for e in evs if isinstance(e, ScanRejected)] == ["bom", "format_char"]
    assert [e.data for e in evs if isinstance(e, CodeScanned)] == ["APPT-2"]
