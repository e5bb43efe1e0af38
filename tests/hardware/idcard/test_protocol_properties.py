"""Property tests: random and mutated frames give a result or ProtocolError, quickly."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.idcard import protocol as p

_VALID = [
    p.build_response(0x90), p.build_response(0x9F, bytes(4)), p.build_response(0x90, bytes(8)),
    p.build_response(0x90, p.build_sam_id("05.01-20180402-0000123456-2018040201")),
]


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    frame = bytearray(draw(st.sampled_from(_VALID)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
        if op == "flip" and frame:
            i = draw(st.integers(0, len(frame) - 1))
            frame[i] ^= draw(st.integers(1, 255))
        elif op == "cut" and frame:
            i = draw(st.integers(0, len(frame) - 1))
            del frame[i:i + draw(st.integers(1, 8))]
        elif op == "insert":
            i = draw(st.integers(0, len(frame)))
            frame[i:i] = draw(st.binary(min_size=1, max_size=8))
        else:
            frame += frame[: draw(st.integers(0, len(frame)))]
    return bytes(frame)


def _decode_all(data: bytes) -> list[bytes]:
    dec = p.FrameDecoder()
    dec.feed(data)
    out = []
    for _ in range(len(data) + 1):  # each step consumes bytes or stops
        try:
            payload = dec.next_payload()
        except p.ProtocolError:
            continue
        if payload is None:
            break
        out.append(payload)
        p.parse_response_payload(payload).status  # noqa: B018 - must not raise
    return out


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), mutated_frames()))
def test_parse_frame_returns_or_raises_own_error(data: bytes) -> None:
    t0 = time.perf_counter()
    try:
        payload = p.parse_frame(data)
        assert isinstance(p.parse_response_payload(payload), p.Response)
    except p.ProtocolError as exc:
        assert exc.detail
    assert time.perf_counter() - t0 < 0.5


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), mutated_frames()),
       st.lists(st.integers(1, 64), min_size=1, max_size=20))
def test_decoder_stream_is_bounded_and_typed(data: bytes, cuts: list[int]) -> None:
    t0 = time.perf_counter()
    frames = _decode_all(data)
    assert all(isinstance(f, bytes) for f in frames)
    # fed in arbitrary pieces, the same frames come out
    dec = p.FrameDecoder()
    got: list[bytes] = []
    pos = 0
    for cut in cuts * (len(data) // max(1, sum(cuts)) + 1):
        dec.feed(data[pos:pos + cut])
        pos += cut
        while True:
            try:
                payload = dec.next_payload()
            except p.ProtocolError:
                continue
            if payload is None:
                break
            got.append(payload)
    assert got == frames
    assert dec.needed() >= 1
    assert time.perf_counter() - t0 < 1.0


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=256, max_size=256), st.binary(max_size=1100))
def test_text_and_read_data_parsers_are_typed(text: bytes, rest: bytes) -> None:
    try:
        card = p.parse_text(text)
        assert card.card_type in ("resident", "hk_mo_tw", "foreign_permanent")
    except p.ProtocolError as exc:
        assert exc.detail
    try:
        p.parse_read_data(rest)
    except p.ProtocolError as exc:
        assert exc.detail
