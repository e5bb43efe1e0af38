"""Build the QR scanner from its config section and the device context.

``port`` is a serial device, or ``sim://qr?...`` for the pty simulator, which the scanner then
owns and whose control socket is recorded in ``ctx.sims`` under ``qr``.
"""

from __future__ import annotations

from hardware.base import DeviceNotReady
from hardware.context import DeviceContext
from hardware.qr.config import QrConfig
from hardware.qr.scanner import SerialQrScanner
from hardware.sim.kit import open_url
from hardware.sim.url import is_sim_url


def create(section: QrConfig, ctx: DeviceContext | None = None) -> SerialQrScanner:
    """The serial scanner on ``section.port`` (not started: ``start(sink)`` connects)."""
    ctx = ctx or DeviceContext()
    if not section.port:
        raise DeviceNotReady("qr.port is not configured", detail="no_port")
    if not is_sim_url(section.port):
        return SerialQrScanner(section.port, baud=section.baud, suffix=section.suffix,
                               trigger=section.trigger, dedup_window_s=section.dedup_window_s,
                               max_len=section.max_len)
    url = open_url(section.port, "qr", allowed=ctx.allow_simulation)
    from hardware.qr.simulator import QrScannerSimulator

    sim = QrScannerSimulator.from_url(url, suffix=section.suffix,
                                      control_path=ctx.sims.control_path("qr", url["control"]))
    ctx.sims.record("qr", sim)
    return SerialQrScanner(sim.link_path, baud=section.baud, suffix=sim.suffix,
                           trigger=section.trigger, dedup_window_s=section.dedup_window_s,
                           max_len=section.max_len, simulator=sim, port_label=section.port)
