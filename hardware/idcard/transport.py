"""Serial transport of the ID-card reader (pyserial).

A ``sim://idcard?...`` port is opened by the factory (:mod:`hardware.idcard.factory`): it
starts an :class:`~hardware.idcard.simulator.IdCardSimulator` on a pty and gives this
transport the pty's path, so the driver talks the same bytes over a real tty as it would to a
USB-serial SAM module.
"""

from __future__ import annotations

import select
from collections.abc import Callable

import serial

from hardware.base import DeviceNotReady


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
