"""Serial transport of the ID-card reader (pyserial).

A ``sim://idcard?...`` port is opened by the factory (:mod:`hardware.idcard.factory`): it
starts an :class:`~hardware.idcard.simulator.IdCardSimulator` on a pty and gives this
transport the pty's path, so the driver talks the same bytes over a real tty as it would to a
USB-serial SAM module.

Every failure of the port is a :class:`~hardware.base.DeviceNotReady` with detail
``no_device``: pyserial raises ``SerialException`` or ``OSError`` for most of them, but its
termios calls (flushing, line settings) raise ``termios.error``, which is neither, when the
device has gone (a USB-serial adapter pulled out, the simulator's pty closed).
"""

from __future__ import annotations

import select
import termios
from collections.abc import Callable

import serial

from hardware.base import DeviceNotReady

# what a vanished or broken port raises (termios.error is not an OSError)
PORT_ERRORS = (serial.SerialException, OSError, termios.error)


def _lost(what: str, exc: BaseException) -> DeviceNotReady:
    """The typed error of a port that failed (the exception's class, never its text)."""
    name = "termios.error" if isinstance(exc, termios.error) else exc.__class__.__name__
    return DeviceNotReady(f"{what}: {name}", detail="no_device")


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
        path = self.path
        if not path:  # the simulator's pty is closed (unplugged)
            raise DeviceNotReady("cannot open serial port: not connected", detail="no_device")
        try:
            self._ser = serial.Serial(path, self.baud, timeout=0, write_timeout=2.0)
        except (*PORT_ERRORS, ValueError) as exc:
            raise _lost("cannot open serial port", exc) from None

    def _port(self) -> serial.Serial:
        if self._ser is None:
            raise DeviceNotReady("serial port is not open", detail="no_device")
        return self._ser

    def write(self, data: bytes) -> None:
        try:
            self._port().write(data)
        except PORT_ERRORS as exc:
            raise _lost("serial write failed", exc) from None

    def read_some(self, max_n: int, timeout: float) -> bytes:
        """Up to ``max_n`` bytes, waiting at most ``timeout`` for the first; b"" on timeout."""
        ser = self._port()
        try:
            ready, _, _ = select.select([ser.fileno()], [], [], max(0.0, timeout))
            if not ready:
                return b""
            data: bytes = ser.read(max_n)
        except (*PORT_ERRORS, ValueError) as exc:
            raise _lost("serial read failed", exc) from None
        return data

    def discard_input(self) -> None:
        try:
            self._port().reset_input_buffer()
        except PORT_ERRORS as exc:
            raise _lost("serial flush failed", exc) from None

    def close(self) -> None:
        if self._ser is not None:
            try:
                self._ser.close()
            except PORT_ERRORS:
                pass
            self._ser = None
