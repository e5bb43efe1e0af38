"""Pluggable WLT photo decoders (the 1024-byte card photo format has no open decoder).

A vendor library is loaded with ctypes when ``idcard.photo_decoder`` names it. The usual
Linux vendor export is ``int unpack(char *wlt, char *bmp, int save_bmp)`` returning 1 on
success and writing a 102x126 24-bit BMP (38,862 bytes) into ``bmp``. Without a decoder the
reference photo for face verification comes from the backend. Decoded images stay in memory.
"""

from __future__ import annotations

import ctypes
from typing import Protocol

from hardware.base import Unsupported

WLT_LEN = 1024
BMP_LEN = 38862  # 54-byte header + 126 rows of 102*3 bytes padded to 308


class WltDecoder(Protocol):
    """Turns the raw WLT bytes into an image (BMP bytes)."""

    def decode(self, wlt: bytes | bytearray) -> bytes: ...


class CtypesWltDecoder:
    """A vendor decoder library with the ``unpack(src, dst, save)`` export."""

    def __init__(self, library: str, symbol: str = "unpack") -> None:
        try:
            lib = ctypes.CDLL(library)
            self._fn = getattr(lib, symbol)
        except (OSError, AttributeError) as exc:
            raise Unsupported(f"WLT decoder library unusable: {exc.__class__.__name__}",
                              detail="photo_decoder") from None
        self._fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
        self._fn.restype = ctypes.c_int
        self.library = library

    def decode(self, wlt: bytes | bytearray) -> bytes:
        if len(wlt) != WLT_LEN:
            raise Unsupported("WLT photo must be 1024 bytes", detail="photo_decoder")
        src = ctypes.create_string_buffer(bytes(wlt), WLT_LEN)
        dst = ctypes.create_string_buffer(BMP_LEN)
        try:
            rc = self._fn(src, dst, 0)
            if rc != 1:
                raise Unsupported(f"WLT decoder returned {rc}", detail="photo_decoder")
            return dst.raw
        finally:  # leave no copy of the photo in ctypes buffers
            ctypes.memset(src, 0, WLT_LEN)
            ctypes.memset(dst, 0, BMP_LEN)


def load_decoder(library: str | None) -> WltDecoder | None:
    """The configured decoder, or None when none is configured."""
    return CtypesWltDecoder(library) if library else None
