"""Configuration of QR code input: a serial scanner and/or decoding camera frames."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class QrConfig(BaseModel):
    """A serial QR scanner (``sim://qr`` for the simulator) and camera decoding."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    port: str | None = "sim://qr"
    baud: int = 9600
    suffix: Literal["cr", "crlf"] = "cr"
    trigger: bool = False
    dedup_window_s: float = Field(2.0, ge=0, le=60)
    camera_decode: bool = True
    max_len: int = Field(512, ge=16, le=4096, description="longest accepted payload, bytes")
