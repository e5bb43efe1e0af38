"""A serial QR scanner simulator on a pseudo-terminal, with injectable faults.

The simulator owns the pty master; the driver opens the slave like any serial port. Because
an unplug closes the pty (the slave path disappears) and a replug opens a new one, clients
should open the stable symlink :attr:`QrScannerSimulator.link_path`, which always points at
the current slave, as a udev rule would for a real scanner.

``sim://qr?...`` opens one (:meth:`QrScannerSimulator.from_url`). Control (the demo's
"phone", tests) goes through the control socket, JSON lines (:mod:`hardware.sim.control`)::

    {"op": "scan", "text": "GZID1...."}        -> {"ok": true, "sent": true}
    {"op": "raw", "hex": "16540d"}              -> {"ok": true}
    {"op": "fault", "kind": "partial"}          kinds: hardware.sim.url.FAULTS["qr"]
    {"op": "status"}                            -> {"ok": true, "pty": ..., "armed": ...,
                                                    "plugged": ..., "commands": [...]}
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import tempfile
import threading
import tty
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hardware.qr.protocol import TERMINATORS, parse_command
from hardware.sim.control import ControlError, ControlServer, Reply
from hardware.sim.url import FAULTS as ALL_FAULTS
from hardware.sim.url import SimUrl

FAULTS = tuple(ALL_FAULTS["qr"])


class QrScannerSimulator:
    """Emits scans on a pty the way a CR/CRLF-suffix serial scanner does; obeys triggers.

    In trigger mode (``trigger=True``) a scan is only sent while the scanner is armed by
    ``16 54 0D`` and before ``16 55 0D``, as a real scanner in manual-trigger mode.
    """

    def __init__(self, suffix: str = "cr", *, trigger: bool = False, seed: int = 0,
                 control_path: str | None = None) -> None:
        if suffix not in TERMINATORS:
            raise ValueError(f"suffix must be one of {sorted(TERMINATORS)}")
        self.suffix = suffix
        self.terminator = TERMINATORS[suffix]
        self.trigger = trigger
        self.armed = not trigger
        self.commands: list[str] = []
        self.command_event = threading.Condition()
        self._rng = random.Random(seed)  # noqa: S311 - line noise, not a secret
        self._dir = Path(tempfile.mkdtemp(prefix="qr-sim-"))
        self.link_path = str(self._dir / "tty")
        self.control_path = control_path
        self._lock = threading.RLock()
        self._master: int | None = None
        self._slave: int | None = None
        self.pty_path = ""
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: ControlServer | None = None

    @classmethod
    def from_url(cls, url: SimUrl, *, suffix: str, control_path: str | None
                 ) -> QrScannerSimulator:
        """Start the simulator ``sim://qr?suffix=crlf&trigger=1&seed=3`` describes (the
        URL's suffix wins over ``suffix``, the configured one)."""
        return cls(url["suffix"] or suffix, trigger=url["trigger"], seed=url["seed"],
                   control_path=control_path).start()

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> QrScannerSimulator:
        self._plug()
        self._spawn(self._command_loop)
        if self.control_path:
            self._server = ControlServer(self.control_path, self.control, name="qr-sim")
            self._server.start()
        return self

    def _spawn(self, target: Any) -> None:
        t = threading.Thread(target=target, name=f"qr-sim-{target.__name__}", daemon=True)
        t.start()
        self._threads.append(t)

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)
        if self._server is not None:
            self._server.close()
            self._server = None
        self._unplug()
        with contextlib.suppress(OSError):
            os.unlink(self.link_path)
        with contextlib.suppress(OSError):
            self._dir.rmdir()

    def __enter__(self) -> QrScannerSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def _plug(self) -> None:
        with self._lock:
            if self._master is not None:
                return
            master, slave = os.openpty()
            tty.setraw(slave)  # no echo, no line discipline, before any client opens it
            self._master, self._slave = master, slave
            self.pty_path = os.ttyname(slave)
            tmp = self.link_path + ".new"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            os.symlink(self.pty_path, tmp)
            os.replace(tmp, self.link_path)

    def _unplug(self) -> None:
        with self._lock:
            for fd in (self._master, self._slave):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._master = self._slave = None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.link_path)  # the device node vanishes, as on a real unplug

    # -- what the scanner sends -----------------------------------------------------------
    def write_raw(self, data: bytes) -> None:
        with self._lock:
            if self._master is None:
                raise OSError("simulated scanner is unplugged")
            view = memoryview(data)
            while view:
                n = os.write(self._master, view)
                view = view[n:]

    def scan(self, text: str | bytes) -> bool:
        """Send one code plus the suffix; False when in trigger mode and not armed."""
        if not self.armed:
            return False
        payload = text.encode("utf-8") if isinstance(text, str) else text
        self.write_raw(payload + self.terminator)
        return True

    def fault(self, kind: str) -> None:
        """Inject a fault: see :data:`FAULTS`."""
        rng = self._rng
        if kind == "partial":
            self.write_raw(b"GZID1.eyJpIjoicmVmLXBsYXRm")  # a line cut short, no suffix
        elif kind == "garbage":
            self.write_raw(bytes([0xFF, 0xFE, 0x80, 0xC3, 0x28]) + self.terminator)
        elif kind == "noise":
            self.write_raw(bytes(rng.randrange(256) for _ in range(200)) + self.terminator)
        elif kind == "oversized":
            self.write_raw(b"A" * 5000 + self.terminator)
        elif kind == "unplug":
            self._unplug()
        elif kind == "replug":
            self._plug()
        else:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULTS}")

    def wait_command(self, command: str, timeout: float) -> bool:
        """Wait until the driver has sent trigger ``command`` (start/stop)."""
        with self.command_event:
            return self.command_event.wait_for(lambda: command in self.commands, timeout)

    # -- threads --------------------------------------------------------------------------
    def _command_loop(self) -> None:
        buf = b""
        while not self._stop.is_set():
            master = self._master
            if master is None:
                self._stop.wait(0.05)
                continue
            try:
                ready, _, _ = select.select([master], [], [], 0.1)
                if not ready:
                    continue
                data = os.read(master, 256)
            except (OSError, ValueError):  # unplugged under us
                self._stop.wait(0.05)
                continue
            buf = (buf + data)[-64:]
            if b"\r" not in buf:
                continue
            head, _, buf = buf.rpartition(b"\r")
            cmds = parse_command(head + b"\r")
            with self.command_event:
                for cmd in cmds:
                    self.commands.append(cmd)
                    if self.trigger:
                        self.armed = cmd == "start"
                self.command_event.notify_all()

    # -- control ------------------------------------------------------------------------
    def control(self, op: str, request: Mapping[str, Any]) -> Reply:
        """One control request (see the module doc) -> its reply fields."""
        if op == "scan":
            try:
                return {"sent": self.scan(str(request["text"]))}
            except OSError as exc:
                raise ControlError("unplugged", str(exc)) from None
        if op == "raw":
            self.write_raw(bytes.fromhex(str(request["hex"])))
            return {}
        if op == "fault":
            kind = str(request["kind"])
            if kind == "none":
                return {}  # the scanner's faults happen once: nothing stays armed
            if kind not in FAULTS:
                raise ControlError("unknown_fault", f"qr faults: {', '.join(FAULTS)}")
            try:
                self.fault(kind)
            except OSError as exc:
                raise ControlError("unplugged", str(exc)) from None
            return {}
        if op == "status":
            return {"pty": self.pty_path, "link": self.link_path, "plugged": self.plugged,
                    "armed": self.armed, "commands": list(self.commands)}
        raise ControlError("unknown_op", f"qr ops: scan, raw, fault, status (not {op!r})")
