"""A serial QR scanner simulator on a pseudo-terminal, with injectable faults.

The simulator owns the pty master; the driver opens the slave like any serial port. Because
an unplug closes the pty (the slave path disappears) and a replug opens a new one, clients
should open the stable symlink :attr:`QrScannerSimulator.link_path`, which always points at
the current slave, as a udev rule would for a real scanner.

Control channel (for another process, e.g. a test or the demo's "phone"): a Unix stream
socket at :attr:`control_path`. Send one JSON object per line, get one JSON line back::

    {"op": "scan", "text": "GZID1...."}        -> {"ok": true, "sent": true}
    {"op": "raw", "hex": "16540d"}              -> {"ok": true}
    {"op": "fault", "kind": "partial"}          kinds: partial, garbage, noise, oversized,
                                                       unplug, replug
    {"op": "status"}                            -> {"ok": true, "pty": ..., "armed": ...,
                                                    "plugged": ..., "commands": [...]}

Example: ``printf '{"op":"scan","text":"hello"}\\n' | socat - UNIX-CONNECT:/tmp/qr-sim-x/ctl``
or :func:`send_control` from Python.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import socket
import tempfile
import threading
import tty
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from hardware.qr.protocol import TERMINATORS, parse_command

MAX_CONTROL_LINE = 65536  # bytes of one control request (a scan's hex fits easily)
FAULTS = ("partial", "garbage", "noise", "oversized", "unplug", "replug")


class QrScannerSimulator:
    """Emits scans on a pty the way a CR/CRLF-suffix serial scanner does; obeys triggers.

    In trigger mode (``trigger=True``) a scan is only sent while the scanner is armed by
    ``16 54 0D`` and before ``16 55 0D``, as a real scanner in manual-trigger mode.
    """

    def __init__(self, suffix: str = "cr", *, trigger: bool = False, seed: int = 0,
                 control: bool = True) -> None:
        if suffix not in TERMINATORS:
            raise ValueError(f"suffix must be one of {sorted(TERMINATORS)}")
        self.suffix = suffix
        self.terminator = TERMINATORS[suffix]
        self.trigger = trigger
        self.armed = not trigger
        self.commands: list[str] = []
        self.command_event = threading.Condition()
        self._rng = random.Random(seed)
        self._dir = Path(tempfile.mkdtemp(prefix="qr-sim-"))
        self.link_path = str(self._dir / "tty")
        self.control_path = str(self._dir / "ctl") if control else None
        self._lock = threading.RLock()
        self._master: int | None = None
        self._slave: int | None = None
        self.pty_path = ""
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: socket.socket | None = None

    @classmethod
    def from_url(cls, url: str, default_suffix: str = "cr") -> QrScannerSimulator:
        """``sim://qr?suffix=crlf&trigger=1&seed=3`` (all parameters optional)."""
        parsed = urlparse(url)
        if parsed.scheme != "sim" or parsed.netloc != "qr":
            raise ValueError(f"not a QR simulator URL: {url!r}")
        q = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        return cls(q.get("suffix", default_suffix), trigger=q.get("trigger", "0") in ("1", "true"),
                   seed=int(q.get("seed", "0")))

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> QrScannerSimulator:
        self._plug()
        self._spawn(self._command_loop)
        if self.control_path:
            srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            srv.bind(self.control_path)
            srv.listen(4)
            srv.settimeout(0.2)
            self._server = srv
            self._spawn(self._control_loop)
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
        self._unplug()
        for p in (self.link_path, self.control_path):
            if p:
                with contextlib.suppress(OSError):
                    os.unlink(p)
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

    def _control_loop(self) -> None:
        assert self._server is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn, conn.makefile("rwb") as fh:
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    self._serve_control(fh)

    def _serve_control(self, fh: Any) -> None:
        """Answer request lines until EOF; a line over :data:`MAX_CONTROL_LINE` bytes gets an
        error reply and ends the connection (nothing is buffered without limit)."""
        while True:
            line = fh.readline(MAX_CONTROL_LINE + 1)
            if not line:
                return
            if len(line) > MAX_CONTROL_LINE:
                reply: dict[str, Any] = {"ok": False, "error": "line_too_long"}
            else:
                reply = self.handle_control(line)
            fh.write(json.dumps(reply).encode() + b"\n")
            fh.flush()
            if not reply.get("ok") and reply.get("error") == "line_too_long":
                return

    def handle_control(self, line: bytes) -> dict[str, Any]:
        """One control request (a JSON object) -> its JSON reply; never raises."""
        try:
            req = json.loads(line)
            op = req.get("op")
            if op == "scan":
                return {"ok": True, "sent": self.scan(str(req["text"]))}
            if op == "raw":
                self.write_raw(bytes.fromhex(str(req["hex"])))
                return {"ok": True}
            if op == "fault":
                self.fault(str(req["kind"]))
                return {"ok": True}
            if op == "status":
                return {"ok": True, "pty": self.pty_path, "link": self.link_path,
                        "plugged": self.plugged, "armed": self.armed,
                        "commands": list(self.commands)}
            return {"ok": False, "error": f"unknown op {op!r}"}
        except (ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
            return {"ok": False, "error": type(exc).__name__}


def send_control(control_path: str, request: dict[str, Any], timeout: float = 5.0) -> Any:
    """Send one request to a simulator's control socket (from any process); return the reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(control_path)
        with s.makefile("rwb") as fh:
            fh.write(json.dumps(request).encode() + b"\n")
            fh.flush()
            return json.loads(fh.readline())
