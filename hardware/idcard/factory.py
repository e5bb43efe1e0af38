"""Build the ID-card reader from the kiosk configuration."""

from __future__ import annotations

from hardware.idcard.driver import IdCardReader
from hardware.idcard.photo import load_decoder
from hardware.idcard.simulator import IdCardSimulator
from hardware.idcard.transport import SerialTransport, start_simulator
from kiosk.config.schema import KioskConfig


def open_reader(port: str, baud: int, cfg: KioskConfig | None = None) -> IdCardReader:
    """A reader on ``port`` (device path or ``sim://idcard?...``), port opened, no SAM I/O."""
    section = (cfg or KioskConfig()).idcard.model_copy(update={"port": port, "baud": baud})
    simulator: IdCardSimulator | None = None
    if port.startswith("sim://"):
        simulator = start_simulator(port, baud)
        sim = simulator
        transport = SerialTransport(lambda: sim.path, baud)
    else:
        transport = SerialTransport(port, baud)
    try:
        transport.open()
        decoder = load_decoder(section.photo_decoder)
    except BaseException:
        if simulator is not None:
            simulator.stop()
        raise
    return IdCardReader(section, transport, photo_decoder=decoder, simulator=simulator)


def create(cfg: KioskConfig) -> IdCardReader:
    """The configured reader; for ``sim://`` ports ``reader.simulator`` is the simulator."""
    return open_reader(cfg.idcard.port, cfg.idcard.baud, cfg)
