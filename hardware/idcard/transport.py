"""Serial transport of the ID-card reader (pyserial), and ``sim://idcard`` URLs.

``sim://idcard?cards=demo&fault=NAME&baud=N&insert=KEY&control=PATH`` starts an in-process
:class:`~hardware.idcard.simulator.IdCardSimulator` on a pty and opens its path, so the driver
talks the same bytes over a real tty as it would to a USB-serial SAM module.
"""

from __future__ import annotations

import select
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import serial

from hardware.base import DeviceNotReady
from hardware.idcard.simulator import DeckError, IdCardSimulator, load_deck


@dataclass(frozen=True)
class SimUrl:
    """The parts of a ``sim://idcard`` URL."""

    cards: str = "demo"
    fault: str | None = None
    baud: int | None = None
    insert: str | None = None
    control: str | None = None


def parse_sim_url(url: str) -> SimUrl:
    """Parse ``sim://idcard?...``; raises ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme != "sim" or parts.netloc != "idcard":
        raise ValueError(f"not an ID-card simulator URL: {url!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"cards", "fault", "baud", "insert", "control"}
    if unknown:
        raise ValueError(f"unknown sim:// parameters: {', '.join(sorted(unknown))}")
    baud = int(query["baud"]) if "baud" in query else None
    return SimUrl(query.get("cards", "demo"), query.get("fault"), baud, query.get("insert"),
                  query.get("control"))


def start_simulator(url: str, baud: int) -> IdCardSimulator:
    """Start the simulator a ``sim://`` URL describes."""
    spec = parse_sim_url(url)
    try:
        deck = load_deck(spec.cards)
    except DeckError as exc:
        raise DeviceNotReady(f"simulator deck: {exc}", detail="no_device") from None
    sim = IdCardSimulator(deck, baud=spec.baud or baud, fault=spec.fault,
                          control_path=spec.control)
    if spec.insert:
        sim.insert(spec.insert)
    sim.start()
    return sim


class SerialTransport:
    """A serial port read without busy-waiting: select() with a timeout, then what is there."""

    def __init__(self, path: str | Callable[[], str], baud: int) -> None:
        self._path = path
        self.baud = baud
        self._ser: serial.Serial | None = None

    @property
    def path(self) -> str:
        return self._path() if callable(self._path) else self._path

    @property
    def is_open(self) -> bool:
        return self._ser is not None

    def open(self) -> None:
        """Open the port; raises :class:`DeviceNotReady` (detail ``no_device``) on failure."""
        self.close()
        try:
            self._ser = serial.Serial(self.path, self.baud, timeout=0, write_timeout=2.0)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceNotReady(f"cannot open serial port: {exc.__class__.__name__}",
                                 detail="no_device") from None

    def _port(self) -> serial.Serial:
        if self._ser is None:
            raise DeviceNotReady("serial port is not open", detail="no_device")
        return self._ser

    def write(self, data: bytes) -> None:
        try:
            self._port().write(data)
        except (serial.SerialException, OSError) as exc:
            raise DeviceNotReady(f"serial write failed: {exc.__class__.__name__}",
                                 detail="no_device") from None

    def read_some(self, max_n: int, timeout: float) -> bytes:
        """Up to ``max_n`` bytes, waiting at most ``timeout`` for the first; b"" on timeout."""
        ser = self._port()
        try:
            ready, _, _ = select.select([ser.fileno()], [], [], max(0.0, timeout))
            if not ready:
                return b""
            data: bytes = ser.read(max_n)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceNotReady(f"serial read failed: {exc.__class__.__name__}",
                                 detail="no_device") from None
        return data

    def discard_input(self) -> None:
        try:
            self._port().reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            raise DeviceNotReady(f"serial flush failed: {exc.__class__.__name__}",
                                 detail="no_device") from None

    def close(self) -> None:
        if self._ser is not None:
            try:
                self._ser.close()
            except (serial.SerialException, OSError):
                pass
            self._ser = None
