"""Exact bytes and table contents of the SAM protocol."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from hardware.idcard import protocol as p
from hardware.idcard.card import IdCardData


def hx(s: str) -> bytes:
    return bytes.fromhex(s)


@pytest.mark.parametrize(("command", "frame"), [
    (p.Command.RESET, "AA AA AA 96 69 00 03 10 FF EC"),
    (p.Command.SAM_STATUS, "AA AA AA 96 69 00 03 11 FF ED"),
    (p.Command.SAM_ID, "AA AA AA 96 69 00 03 12 FF EE"),
    (p.Command.FIND, "AA AA AA 96 69 00 03 20 01 22"),
    (p.Command.SELECT, "AA AA AA 96 69 00 03 20 02 21"),
    (p.Command.READ, "AA AA AA 96 69 00 03 30 01 32"),
    (p.Command.READ_NEW_ADDRESS, "AA AA AA 96 69 00 03 30 03 30"),
    (p.Command.READ_FINGERPRINT, "AA AA AA 96 69 00 03 30 10 23"),
])
def test_command_frames_exact_bytes(command: p.Command, frame: str) -> None:
    assert p.build_command(command) == hx(frame)


def test_response_frames_exact_bytes() -> None:
    assert p.build_response(0x90) == hx("AA AA AA 96 69 00 04 00 00 90 94")
    assert p.build_response(0x9F, bytes(4)) == hx("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97")
    assert p.build_response(0x80) == hx("AA AA AA 96 69 00 04 00 00 80 84")
    select_ok = p.build_response(0x90, bytes(8))
    assert select_ok[:10] == hx("AA AA AA 96 69 00 0C 00 00 90") and len(select_ok) == 19


def test_parse_response_and_status_table() -> None:
    r = p.parse_response(hx("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97"))
    assert (r.sw3, r.data, r.status.ok) == (0x9F, bytes(4), True)
    assert p.parse_response(hx("AA AA AA 96 69 00 04 00 00 80 84")).status.outcome \
        is p.Outcome.NO_CARD
    expected = {0x90: "ok", 0x9F: "ok", 0x91: "no_content", 0x10: "checksum", 0x11: "protocol",
                0x21: "protocol", 0x23: "sam_fault", 0x24: "protocol", 0x31: "sam_error",
                0x32: "sam_error", 0x33: "sam_error", 0x40: "unknown_card", 0x41: "sam_error",
                0x47: "sam_error", 0x60: "sam_fault", 0x66: "sam_fault", 0x80: "no_card",
                0x81: "no_card"}
    assert {k: v.outcome.value for k, v in p.SW3_TABLE.items()} == expected
    assert p.status_word(0x55).outcome is p.Outcome.PROTOCOL


@pytest.mark.parametrize(("frame", "detail"), [
    ("AA AA AA 96 69 00 04 00 00 90 95", "checksum"),
    ("AA AA AA 96 69 00 05 00 00 90 94", "partial"),
    ("AB AA AA 96 69 00 04 00 00 90 94", "preamble"),
    ("AA AA AA 96 69 00 01 00", "length"),
])
def test_parse_frame_errors(frame: str, detail: str) -> None:
    with pytest.raises(p.ProtocolError) as err:
        p.parse_frame(hx(frame))
    assert err.value.detail == detail


def test_decoder_resyncs_on_garbage_and_reads_byte_by_byte() -> None:
    ok = p.build_response(0x9F, bytes(4))
    stream = b"\x00\xaa\xaa\x13\xaa\xaa\xaa\x96\x00" + b"\xaa" + ok + p.build_response(0x80)
    dec = p.FrameDecoder()
    payloads = []
    for b in stream:
        assert dec.needed() >= 1
        dec.feed(bytes([b]))
        got = dec.next_payload()
        if got is not None:
            payloads.append(got)
    assert payloads == [b"\x00\x00\x9f" + bytes(4), b"\x00\x00\x80"]
    assert dec.skipped == 10


def test_decoder_raises_on_bad_checksum_then_continues() -> None:
    bad = bytearray(p.build_response(0x90))
    bad[-1] ^= 1
    dec = p.FrameDecoder()
    dec.feed(bytes(bad) + p.build_response(0x9F, bytes(4)))
    with pytest.raises(p.ProtocolError) as err:
        dec.next_payload()
    assert err.value.detail == "checksum"
    assert dec.next_payload() == b"\x00\x00\x9f" + bytes(4)


def test_decoder_needed_never_overreads() -> None:
    frame = p.build_response(0x90, bytes(100))
    dec = p.FrameDecoder()
    total = 0
    while (payload := dec.next_payload()) is None:
        n = dec.needed()
        dec.feed(frame[total:total + n])
        total += n
    assert total == len(frame) and payload[:3] == b"\x00\x00\x90"


def test_sam_id_round_trip() -> None:
    sam = "05.01-20180402-0000123456-2018040201"
    data = p.build_sam_id(sam)
    assert len(data) == 16 and p.parse_sam_id(data) == sam
    with pytest.raises(p.ProtocolError):
        p.parse_sam_id(bytes(15))


def test_nation_table_has_all_56() -> None:
    codes = [f"{i:02d}" for i in range(1, 57)]
    assert all(c in p.NATIONS for c in codes)
    assert len(set(p.NATIONS[c] for c in codes)) == 56
    assert (p.NATIONS["01"], p.NATIONS["08"], p.NATIONS["56"]) == ("汉", "壮", "基诺")


RESIDENT = IdCardData(
    card_type="resident", name="陈美玲", sex="女", nation="汉", birth_date=date(1958, 3, 12),
    address="广东省佛山市南海区桂城街道南海大道北88号", id_number="440605195803121228",
    issuer="佛山市公安局南海分局", valid_from=date(2018, 4, 2), valid_to=None,
    photo=bytearray(b"\x01" * 1024))


def test_resident_text_layout_offsets() -> None:
    text = p.encode_text(RESIDENT)
    assert len(text) == 256
    assert text[0:6] == "陈美玲".encode("utf-16-le")
    assert text[30:32] == "2".encode("utf-16-le")
    assert text[32:36] == "01".encode("utf-16-le")
    assert text[36:52] == "19580312".encode("utf-16-le")
    assert text[122:158] == "440605195803121228".encode("utf-16-le")
    assert text[204:208] == "长期".encode("utf-16-le")
    assert text[248:250] == b" \x00"
    card = p.parse_text(text, bytes(RESIDENT.photo))
    assert card.as_json() == RESIDENT.as_json()
    assert card.valid_to is None


def test_permit_and_foreign_cards_round_trip() -> None:
    permit = replace(RESIDENT, card_type="hk_mo_tw", nation=None, id_number="810000199006151232",
                     valid_to=date(2026, 12, 31), pass_number="H60123456", issue_count="01")
    text = p.encode_text(permit)
    assert text[248:250] == "J".encode("utf-16-le")
    assert text[220:238] == "H60123456".encode("utf-16-le")
    got = p.parse_text(text)
    assert (got.card_type, got.pass_number, got.issue_count, got.nation) == \
        ("hk_mo_tw", "H60123456", "01", None)
    foreign = replace(RESIDENT, card_type="foreign_permanent", nation=None, name="史密斯",
                      en_name="SMITH, JOHN", id_number="USA440619580312", nationality="USA",
                      address="", issuer="", card_version="01", authority_code="4400",
                      valid_to=date(2030, 1, 1))
    text = p.encode_text(foreign)
    assert text[248:250] == "I".encode("utf-16-le")
    assert text[0:22] == "SMITH, JOHN".encode("utf-16-le")
    assert text[220:236] == "19580312".encode("utf-16-le")
    got = p.parse_text(text)
    assert (got.card_type, got.name, got.en_name, got.nationality) == \
        ("foreign_permanent", "史密斯", "SMITH, JOHN", "USA")
    assert got.birth_date == date(1958, 3, 12)


def test_bad_text_blocks_are_protocol_errors() -> None:
    text = bytearray(p.encode_text(RESIDENT))
    text[248:250] = "Y".encode("utf-16-le")
    with pytest.raises(p.ProtocolError) as err:
        p.parse_text(bytes(text))
    assert err.value.detail == "unknown_card"
    text = bytearray(p.encode_text(RESIDENT))
    text[32:36] = "77".encode("utf-16-le")
    with pytest.raises(p.ProtocolError):
        p.parse_text(bytes(text))
    text = bytearray(p.encode_text(RESIDENT))
    text[36:52] = "19581312".encode("utf-16-le")
    with pytest.raises(p.ProtocolError):
        p.parse_text(bytes(text))


def test_read_data_blocks() -> None:
    data = p.build_read_data(bytes(256), bytes(range(256)) * 4)
    assert data[:4] == hx("01 00 04 00")
    frame = p.build_response(0x90, data)
    assert len(frame) == 1295 and frame[5:7] == hx("05 08")
    blocks = p.parse_read_data(p.parse_response(frame).data)
    assert blocks.photo == bytes(range(256)) * 4
    with pytest.raises(p.ProtocolError):
        p.parse_read_data(data[:-1])
