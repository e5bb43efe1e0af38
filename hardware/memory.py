"""Wiping buffers that held personal data (frames, encodings, decoded photos)."""

from __future__ import annotations

from typing import Any

import numpy.typing as npt


def wipe(arr: npt.NDArray[Any] | bytearray | None) -> None:
    """Zero a buffer in place (frames, encodings, decoded photos) when it is writeable."""
    if arr is None:
        return
    if isinstance(arr, bytearray):
        arr[:] = bytes(len(arr))
        return
    if arr.flags.writeable:
        arr.fill(0)
