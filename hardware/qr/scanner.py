"""Serial QR scanner driver: pyserial transport, a reader thread, reconnect, de-duplication.

Frames on the configured terminator with :class:`~hardware.qr.protocol.LineFramer` (not
``readline``, which waits for LF), sanitises payloads, drops repeats within the dedup window
and emits :class:`CodeScanned` / :class:`ScanRejected`. An unplugged scanner is reopened
every ``reconnect_s`` until it comes back; the status goes ``no_device`` meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import serial

from hardware.base import (
    Deadline,
    Device,
    DeviceEvent,
    DeviceNotReady,
    DeviceStatus,
    HealthLevel,
    HealthResult,
)
from hardware.events import CodeScanned, ScanRejected
from hardware.qr.protocol import (
    TRIGGER_START,
    TRIGGER_STOP,
    Deduplicator,
    Frame,
    LineFramer,
    PayloadRejected,
    sanitise,
)

if TYPE_CHECKING:  # the simulator is imported only where a sim:// port asks for it
    from hardware.qr.simulator import QrScannerSimulator

log = logging.getLogger("hardware.qr")

DRIVER_VERSION = "1.0"


class SerialQrScanner(Device):
    """A CR/CRLF-suffix serial QR scanner on ``path`` (a device, or a simulator's pty link).

    ``start(sink)`` runs the reader thread (CodeScanned / ScanRejected to the sink);
    ``read_code(deadline)`` waits for one scan (pulling the trigger first when trigger mode
    is on); ``close()`` stops everything, including the ``simulator`` it owns, if any.
    """

    name = "qr"

    def __init__(self, path: str, *, baud: int = 9600, suffix: str = "cr",
                 trigger: bool = False, dedup_window_s: float = 2.0, max_len: int = 512,
                 reconnect_s: float = 0.3, read_timeout_s: float = 0.1,
                 simulator: QrScannerSimulator | None = None,
                 port_label: str | None = None) -> None:
        super().__init__()
        self.simulator = simulator  # owned: closed by close()
        self.path = path
        self.port_label = port_label or path
        self.baud = baud
        self.suffix = suffix
        self.trigger = trigger
        self.max_len = max_len
        self.reconnect_s = reconnect_s
        self.read_timeout_s = read_timeout_s
        self._framer = LineFramer.for_suffix(suffix, max_len)
        self._dedup = Deduplicator(dedup_window_s)
        self._serial: serial.Serial | None = None
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._scans = threading.Condition()
        self._last_scan: tuple[int, str] = (0, "")
        self._sighting: tuple[int, str] = (0, "")  # every read, repeats within the window too
        self._connected = threading.Event()

    # -- lifecycle ------------------------------------------------------------------------
    def _start(self) -> None:
        """Start the reader thread; events go to the sink (called on that thread)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="qr-reader", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
            self._thread = None
        self._disconnect()
        if self.simulator is not None:
            self.simulator.close()
            self.simulator = None
        self._update(DeviceStatus.OFFLINE, connected=False)
        super().close()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # -- transport ------------------------------------------------------------------------
    def _connect(self) -> bool:
        try:
            ser = serial.Serial(self.path, self.baud, timeout=self.read_timeout_s,
                                write_timeout=1.0)
        except (serial.SerialException, OSError, ValueError):
            self._update(DeviceStatus.NO_DEVICE, connected=False)
            return False
        self._serial = ser
        self._framer.reset()
        if self.trigger:
            self._send(TRIGGER_STOP)  # known state: not decoding until asked
        self.count("connects")
        self._connected.set()
        self._update(DeviceStatus.ONLINE, connected=True)
        log.info("qr scanner connected")
        return True

    def _disconnect(self) -> None:
        self._connected.clear()
        ser, self._serial = self._serial, None
        if ser is not None:
            with contextlib.suppress(Exception):
                ser.close()

    def _send(self, data: bytes) -> None:
        ser = self._serial
        if ser is None:
            raise DeviceNotReady("qr scanner not connected", detail="not_connected")
        with self._write_lock:
            try:
                ser.write(data)
                ser.flush()
            except (serial.SerialException, OSError) as exc:
                raise DeviceNotReady("qr scanner write failed", detail="write_failed") from exc

    def trigger_start(self) -> None:
        """Start a decode (Honeywell ``SYN T CR``)."""
        self._send(TRIGGER_START)

    def trigger_stop(self) -> None:
        """Stop decoding (Honeywell ``SYN U CR``)."""
        self._send(TRIGGER_STOP)

    # -- reader ---------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            ser = self._serial
            if ser is None:
                if not self._connect():
                    self._stop.wait(self.reconnect_s)
                continue
            try:
                data = ser.read(max(1, ser.in_waiting))
            except (serial.SerialException, OSError, TypeError):
                # TypeError: pyserial on a closed fd; all mean the device went away
                self._lost()
                continue
            now = time.monotonic()
            frames = self._framer.feed(data, now) if data else self._framer.expire(now)
            for frame in frames:
                self._handle(frame, now)

    def _lost(self) -> None:
        self._disconnect()
        self.count("disconnects")
        log.warning("qr scanner disconnected; reconnecting")
        self._update(DeviceStatus.NO_DEVICE, connected=False)
        for frame in self._framer.reset():
            self._handle(frame, time.monotonic())

    def _handle(self, frame: Frame, now: float) -> None:
        reason = frame.rejected
        if reason is None:
            try:
                text = sanitise(frame.data, self.max_len)
            except PayloadRejected as exc:
                reason = exc.detail
            else:
                fresh = self._dedup.accept(text, now)
                with self._scans:
                    self._sighting = (self._sighting[0] + 1, text)
                    if fresh:
                        self._last_scan = (self._last_scan[0] + 1, text)
                    self._scans.notify_all()
                if not fresh:
                    self.count("duplicates")
                    return
                self.count("reads")
                self._deliver(CodeScanned(text, "serial"))
                return
        self.count(f"rejected_{reason}")
        if self._dedup.accept(f"\x00reject:{reason}", now):  # one per window in a burst
            self._deliver(ScanRejected(reason))

    def _deliver(self, event: DeviceEvent) -> None:
        self.emit(event)  # a sink's bug is logged there and never kills the reader

    # -- waits ----------------------------------------------------------------------------
    def read_code(self, deadline: Deadline, *, held: bool = False) -> str:
        """Wait for the next accepted scan (thread must be running); pulls the trigger in
        trigger mode. ``held``: also a code held under the scanner since before the call
        (its repeats, which the dedup window keeps from the sink: a one-off read someone
        asked for). Raises ``DeviceTimeout`` / ``Canceled`` / ``DeviceNotReady``."""
        with self._scans:
            after = (self._sighting if held else self._last_scan)[0]
        return self._wait(deadline, after, held)[1]

    @property
    def sightings(self) -> int:
        """How many codes were read so far, repeats within the dedup window too (no I/O):
        for :meth:`next_sighting`."""
        with self._scans:
            return self._sighting[0]

    def next_sighting(self, deadline: Deadline, after: int) -> tuple[int, str]:
        """The latest read once there is one after number ``after`` (a repeat the dedup
        window keeps from the sink counts), with its number: a listener of its own (the
        technician prompt) that calls again and again with the number it got misses no
        read made between two calls, nor a code the sink heard just before it started."""
        return self._wait(deadline, after, True)

    def _wait(self, deadline: Deadline, after: int, held: bool) -> tuple[int, str]:
        if self._thread is None:
            raise DeviceNotReady("qr scanner not started", detail="not_started")

        def latest() -> tuple[int, str]:
            return self._sighting if held else self._last_scan

        if self.trigger:
            self.trigger_start()
        try:
            with self._scans:
                while latest()[0] <= after:
                    deadline.check("qr scan")
                    self._scans.wait(min(0.1, max(deadline.remaining(), 0.001)))
                return latest()
        finally:
            if self.trigger and self._serial is not None:
                with contextlib.suppress(DeviceNotReady):
                    self.trigger_stop()

    # -- description ----------------------------------------------------------------------
    def capabilities(self) -> dict[str, Any]:
        return {"suffix": self.suffix, "trigger": self.trigger, "max_len": self.max_len,
                "dedup_window_s": self._dedup.window_s}

    def inventory(self) -> dict[str, Any]:
        return {"model": "serial QR scanner (CR/CRLF suffix)", "port": self.port_label,
                "simulated": self.simulator is not None, "driver_version": DRIVER_VERSION}

    def check_health(self, level: HealthLevel = HealthLevel.INTERNAL) -> HealthResult:
        connected = self._serial is not None
        if level is HealthLevel.EXTERNAL and connected and self.trigger:
            try:
                self.trigger_stop()  # a harmless command: proves the port takes writes
            except DeviceNotReady:
                connected = False
        ok = connected and self.status.usable
        text = "qr scanner connected" if ok else f"qr scanner not connected ({self.status})"
        return HealthResult(self.name, level, ok, self.status, text,
                            {"connected": connected, "counters": dict(self.counters)})
