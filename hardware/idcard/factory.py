"""Build the ID-card reader from its config section and the device context.

``port`` is a serial device, or ``sim://idcard?...`` (parameters: :data:`hardware.sim.url.SPECS`)
for the simulator, which the reader then owns (``reader.close()`` stops it) and whose control
socket is recorded in ``ctx.sims`` under ``idcard``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hardware.base import DeviceNotReady
from hardware.context import DeviceContext
from hardware.idcard.config import IdCardConfig
from hardware.idcard.driver import IdCardReader
from hardware.idcard.photo import load_decoder
from hardware.idcard.transport import SerialTransport
from hardware.sim.kit import open_url
from hardware.sim.url import is_sim_url

if TYPE_CHECKING:
    from hardware.idcard.simulator import IdCardSimulator


def create(section: IdCardConfig, ctx: DeviceContext | None = None) -> IdCardReader:
    """The reader on ``section.port``, port opened, no SAM I/O yet.

    Raises :class:`~hardware.base.DeviceNotReady` (no port, a deck that does not load,
    simulation refused) or :class:`~hardware.sim.url.SimUrlError` (a bad ``sim://`` URL).
    """
    ctx = ctx or DeviceContext()
    simulator: IdCardSimulator | None = None
    if is_sim_url(section.port):
        url = open_url(section.port, "idcard", allowed=ctx.allow_simulation)
        from hardware.idcard.simulator import DeckError, IdCardSimulator

        try:
            sim = IdCardSimulator.from_url(
                url, baud=section.baud,
                control_path=ctx.sims.control_path("idcard", url["control"]))
        except DeckError as exc:
            raise DeviceNotReady(f"simulator deck: {exc}", detail="no_device") from None
        ctx.sims.record("idcard", sim)
        simulator = sim
        transport = SerialTransport(lambda: sim.path, sim.baud)
    else:
        transport = SerialTransport(section.port, section.baud)
    try:
        transport.open()
        decoder = load_decoder(section.photo_decoder)
    except BaseException:
        if simulator is not None:
            simulator.close()
        raise
    return IdCardReader(section, transport, photo_decoder=decoder, simulator=simulator)


def open_reader(port: str, baud: int, ctx: DeviceContext | None = None) -> IdCardReader:
    """A reader on ``port`` at ``baud`` with the default settings otherwise (diag, bench)."""
    return create(IdCardConfig(port=port, baud=baud), ctx)
