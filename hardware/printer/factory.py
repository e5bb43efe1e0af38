"""Build the printer from its config section and the device context.

``cups_server`` names the CUPS server (``None``: the system's default), or ``sim://printer?...``
for the printer simulator: an AppSocket emulator (spool in ``<var_dir>/printer-spool``) behind
a private cupsd with a raw queue named ``queue``. The printer then owns the simulator
(``printer.close()`` stops it) and its control socket is recorded in ``ctx.sims`` under
``printer``. Simulation is a config choice, the same for every device, not a profile check.
"""

from __future__ import annotations

from hardware.context import DeviceContext
from hardware.printer.config import PrinterConfig
from hardware.printer.driver import CupsPrinter
from hardware.sim.kit import open_url
from hardware.sim.url import is_sim_url


def create(section: PrinterConfig, ctx: DeviceContext | None = None) -> CupsPrinter:
    """The printer on its queue, status refreshed once (not started: ``start(sink)`` polls)."""
    ctx = ctx or DeviceContext()
    server = section.cups_server or ""
    if not is_sim_url(server):
        printer = CupsPrinter(section, kiosk_id=ctx.kiosk_id)
        printer.refresh()
        return printer
    url = open_url(server, "printer", allowed=ctx.allow_simulation)
    from hardware.printer.simulator import PrinterSimulator

    sim = PrinterSimulator.from_url(
        url, queue=section.queue, spool=ctx.var_dir / "printer-spool",
        control_path=ctx.sims.control_path("printer", url["control"]))
    try:
        printer = CupsPrinter(section, server=sim.server, kiosk_id=ctx.kiosk_id, simulator=sim)
    except BaseException:
        sim.close()
        raise
    ctx.sims.record("printer", sim)
    printer.refresh()
    return printer
