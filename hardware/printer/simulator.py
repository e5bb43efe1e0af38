"""The printer simulator (``sim://printer?...``): an AppSocket emulator behind a private cupsd.

The driver talks IPP to a real cupsd (:class:`~hardware.printer.cupsd.PrivateCupsd`, its own
root, a raw queue named like the configured queue) whose ``socket://`` backend streams each
job to the :class:`~hardware.printer.emulator.PrinterEmulator`, which keeps it as
``job-NNNN.prn`` in ``<var_dir>/printer-spool`` (the paper: owner-only). That backend is
:mod:`hardware.printer.pjl_backend`: it asks the printer for its PJL status while a job
streams, so a printer out of paper shows in CUPS as ``printer-state-reasons``
``media-empty-error`` (the job kept, and finished once paper is loaded), as a real printer's
does. The printer that
opened it owns it; its control socket serves the emulator's ops (``fault``, ``status``,
``jobs``; see :mod:`hardware.printer.emulator`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from hardware.base import DeviceNotReady
from hardware.printer.cupsd import CupsdError, PrivateCupsd
from hardware.printer.emulator import PrinterEmulator
from hardware.sim.control import ControlServer
from hardware.sim.url import SimUrl

log = logging.getLogger("hardware.printer.simulator")

# the AppSocket backend with PJL status that the private cupsd uses for socket:// queues
PJL_BACKEND = Path(__file__).with_name("pjl_backend.py")


class PrinterSimulator:
    """Emulator + private cupsd + raw queue; ``server`` is the CUPS server to print to."""

    def __init__(self, emulator: PrinterEmulator, cupsd: PrivateCupsd,
                 control_path: str | None) -> None:
        self.emulator = emulator
        self.cupsd = cupsd
        self.control_path = control_path
        self._control: ControlServer | None = None
        if control_path:
            self._control = ControlServer(control_path, emulator.control, name="printer-sim")
            self._control.start()

    @property
    def server(self) -> str:
        return self.cupsd.server

    @classmethod
    def from_url(cls, url: SimUrl, *, queue: str, spool: Path,
                 control_path: str | None) -> PrinterSimulator:
        """Start everything ``sim://printer?port=N&fault=F`` describes, with a raw queue
        ``queue``; raises :class:`~hardware.base.DeviceNotReady` when cupsd cannot start."""
        emulator = PrinterEmulator(spool, url["port"], fault=url["fault"],
                                   paper_out_after=url["paper_out_after"])
        try:
            emulator.start()
        except (OSError, ValueError) as exc:
            raise DeviceNotReady(f"simulated printer: {exc}", detail="emulator") from exc
        cupsd = PrivateCupsd(backends={"socket": PJL_BACKEND})
        try:
            cupsd.start()
            cupsd.add_raw_queue(queue, f"socket://127.0.0.1:{emulator.port}")
        except CupsdError as exc:
            cupsd.cleanup()
            emulator.stop()
            raise DeviceNotReady(f"simulated printer: {exc}", detail="cupsd") from exc
        return cls(emulator, cupsd, control_path)

    def close(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        try:
            self.cupsd.cleanup()
        except Exception:  # stopping cupsd must not keep the emulator running
            log.exception("stopping the private cupsd failed")
        self.emulator.stop()
