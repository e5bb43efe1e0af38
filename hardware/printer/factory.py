"""Build the printer adapter from the kiosk configuration.

In the simulation profile, when the configured CUPS server has no queue ``printer.queue``,
the factory starts a :class:`PrinterEmulator` (spool in ``var_dir/printer-spool``) and a
:class:`PrivateCupsd` with a raw queue in front of it, and hands both to the adapter as
``printer.emulator`` / ``printer.cupsd`` (stopped by ``printer.close()``).
"""

from __future__ import annotations

from pathlib import Path

from hardware.base import DeviceNotReady
from hardware.printer.config import PrinterConfig
from hardware.printer.cupsd import CupsdError, PrivateCupsd
from hardware.printer.driver import CupsPrinter
from hardware.printer.emulator import PrinterEmulator
from kiosk.config.schema import KioskConfig


def create(cfg: KioskConfig) -> CupsPrinter:
    pcfg = cfg.printer
    printer = CupsPrinter(pcfg, kiosk_id=cfg.kiosk.id)
    if cfg.profile != "simulation" or pcfg.queue in printer.discover():
        printer.refresh()
        return printer
    printer.close()
    return simulated(pcfg, Path(cfg.var_dir), kiosk_id=cfg.kiosk.id)


def simulated(pcfg: PrinterConfig, var_dir: Path, *, kiosk_id: str = "") -> CupsPrinter:
    """An emulator + private cupsd + raw queue, and the adapter on them."""
    emulator = PrinterEmulator(var_dir / "printer-spool", pcfg.emulator_port or 0,
                               control_port=0)
    emulator.start()
    cupsd = PrivateCupsd()
    try:
        cupsd.start()
        cupsd.add_raw_queue(pcfg.queue, f"socket://127.0.0.1:{emulator.port}")
    except CupsdError as exc:
        cupsd.cleanup()
        emulator.stop()
        raise DeviceNotReady(f"simulated printer: {exc}", detail="cupsd") from exc
    printer = CupsPrinter(pcfg, server=cupsd.server, kiosk_id=kiosk_id)
    printer.emulator, printer.cupsd = emulator, cupsd
    printer.refresh()
    return printer
