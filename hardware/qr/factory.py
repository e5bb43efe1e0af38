"""Build the QR scanner adapter from the kiosk configuration."""

from __future__ import annotations

from hardware.base import DeviceNotReady
from hardware.qr.scanner import SerialQrScanner
from kiosk.config.schema import KioskConfig


def create(cfg: KioskConfig) -> SerialQrScanner:
    """The serial scanner on ``qr.port``; for ``sim://qr`` its ``.simulator`` is in-process."""
    q = cfg.qr
    if not q.port:
        raise DeviceNotReady("qr.port is not configured", detail="no_port")
    return SerialQrScanner(q.port, baud=q.baud, suffix=q.suffix, trigger=q.trigger,
                           dedup_window_s=q.dedup_window_s, max_len=q.max_len)
