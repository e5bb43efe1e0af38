"""WLT decoder loading (a real shared library built here) and the benchmark's byte count."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hardware.base import Unsupported
from hardware.idcard.driver import wire_time_s
from hardware.idcard.photo import BMP_LEN, CtypesWltDecoder, load_decoder
from kiosk.bench.idcard import transaction_bytes

STUB = r"""
#include <string.h>
int unpack(char *src, char *dst, int save) {
    (void)save;
    if (src[0] == 0x7f) return -1;
    memset(dst, 0, 38862);
    dst[0] = 'B'; dst[1] = 'M'; dst[54] = src[0];
    return 1;
}
"""


def test_decoder_interface(tmp_path: Path) -> None:
    assert load_decoder(None) is None
    source = tmp_path / "wlt.c"
    source.write_text(STUB)
    lib = tmp_path / "libwltstub.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(source)], check=True,
                   timeout=60)
    decoder = load_decoder(str(lib))
    assert isinstance(decoder, CtypesWltDecoder)
    bmp = decoder.decode(bytearray(b"\x05" * 1024))
    assert len(bmp) == BMP_LEN and bmp[:2] == b"BM" and bmp[54] == 5
    with pytest.raises(Unsupported):
        decoder.decode(b"\x7f" * 1024)
    with pytest.raises(Unsupported):
        decoder.decode(b"\x00" * 10)
    with pytest.raises(Unsupported):
        load_decoder(str(tmp_path / "missing.so"))


def test_wire_time_matches_protocol_facts() -> None:
    assert transaction_bytes() == 30 + 1329
    assert round(wire_time_s(transaction_bytes(), 115200) * 1000) == 118
    assert round(wire_time_s(transaction_bytes(), 9600) * 1000) == 1416
