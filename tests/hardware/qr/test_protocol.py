"""Framing, trigger bytes, payload checks and de-duplication (pure protocol code)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.base import DeviceErrorCode
from hardware.qr.protocol import (
    TRIGGER_START,
    TRIGGER_STOP,
    Deduplicator,
    Frame,
    LineFramer,
    PayloadRejected,
    parse_command,
    sanitise,
)


def test_trigger_bytes_are_honeywell_syn_t_cr_and_syn_u_cr() -> None:
    assert TRIGGER_START == bytes([0x16, 0x54, 0x0D])
    assert TRIGGER_STOP == bytes([0x16, 0x55, 0x0D])
    assert parse_command(b"\x16T\r\x16U\r\x16T\r") == ["start", "stop", "start"]
    assert parse_command(b"junk\r") == []


def test_cr_framing_exact_bytes_and_split_reads() -> None:
    f = LineFramer.for_suffix("cr")
    assert f.feed(b"ABC\rDE", 0.0) == [Frame(b"ABC")]
    assert f.pending == 2
    assert f.feed(b"F\r\r", 0.1) == [Frame(b"DEF"), Frame(b"")]
    assert f.feed(b"\nGH\r", 0.2) == [Frame(b"GH")]  # stray LF of a CRLF scanner dropped


def test_crlf_framing_keeps_lone_cr_inside_and_handles_split_terminator() -> None:
    f = LineFramer.for_suffix("crlf")
    assert f.feed(b"A\rB\r", 0.0) == []
    assert f.feed(b"\nC\r\n", 0.0) == [Frame(b"A\rB"), Frame(b"C")]
    with pytest.raises(ValueError):
        LineFramer.for_suffix("lf")


def test_oversized_line_reported_once_then_recovers() -> None:
    f = LineFramer(b"\r", max_len=10)
    out = f.feed(b"X" * 30, 0.0) + f.feed(b"Y" * 30, 0.0) + f.feed(b"Z\rOK\r", 0.0)
    assert out == [Frame(b"", "oversized"), Frame(b"OK")]
    assert f.feed(b"0123456789AB\r", 0.0) == [Frame(b"", "oversized")]


def test_stale_partial_line_is_dropped() -> None:
    f = LineFramer(b"\r", stale_after_s=0.5)
    assert f.feed(b"GZID1.part", 0.0) == []
    assert f.expire(0.2) == []
    assert f.feed(b"CODE\r", 1.0) == [Frame(b"", "partial"), Frame(b"CODE")]
    f.feed(b"half", 2.0)
    assert f.expire(3.0) == [Frame(b"", "partial")] and f.pending == 0
    assert f.reset() == []


@pytest.mark.parametrize(("raw", "reason"), [
    (b"", "empty"), (b"\xff\xfe", "not_utf8"), (b"ab\x00c", "binary"),
    (b"\x1b[2J", "binary"), ("a\u0085b".encode(), "binary"), (b"A" * 513, "oversized"),
])
def test_sanitise_rejects(raw: bytes, reason: str) -> None:
    with pytest.raises(PayloadRejected) as info:
        sanitise(raw, 512)
    assert info.value.detail == reason and info.value.code is DeviceErrorCode.INVALID_DATA


def test_sanitise_accepts_utf8_text() -> None:
    assert sanitise("粤省事\tAPPT-1".encode()) == "粤省事\tAPPT-1"


def test_dedup_window_slides() -> None:
    d = Deduplicator(2.0)
    assert d.accept("A", 0.0)
    assert not d.accept("A", 1.0)
    assert not d.accept("A", 2.5)  # still held: 1.5 s after the last sighting
    assert d.accept("B", 2.6)
    assert d.accept("A", 5.0)
    assert d.accept("A", 4.0)  # clock went backwards: accept rather than lose a scan
    assert Deduplicator(0.0).accept("A", 0.0) and Deduplicator(0.0).accept("A", 0.0)


@settings(max_examples=200, deadline=200)
@given(st.lists(st.binary(max_size=80), max_size=20), st.sampled_from(["cr", "crlf"]))
def test_framer_never_raises_and_bounds_lines(chunks: list[bytes], suffix: str) -> None:
    f = LineFramer.for_suffix(suffix, max_len=32)
    for i, chunk in enumerate(chunks):
        for frame in f.feed(chunk, i * 0.01):
            assert len(frame.data) <= 32
            assert frame.rejected in (None, "oversized", "partial")
            if frame.data:
                try:
                    sanitise(frame.data, 32)
                except PayloadRejected as exc:
                    assert exc.detail in ("not_utf8", "binary")
        assert f.pending <= 32 + 2
