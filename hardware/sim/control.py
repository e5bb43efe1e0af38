"""The one control protocol of every simulator: JSON lines over a UNIX stream socket.

A client sends one JSON object per line, ``{"op": NAME, ...}``, and gets one JSON object per
line back: ``{"ok": true, ...}`` or ``{"ok": false, "error": CODE, "message": TEXT}``.
Every simulator answers ``status`` and ``fault`` (``{"op": "fault", "kind": NAME}``, ``none``
clears; the names are :data:`hardware.sim.url.FAULTS`); the others are the simulator's own
(``insert``, ``scan``, ``present``, ``jobs`` ...: see ``hardware/sim/README.md``).

A line longer than :data:`MAX_LINE` bytes, not UTF-8 or not a JSON object is refused with an
error reply; a handler that raises gets an error reply; the socket goes on serving. The
socket file is owner-only (0600). :class:`SimClient` is the one client: the simulation dock,
``kiosk sim ctl`` and the tests all use it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("hardware.sim.control")

MAX_LINE = 65536  # bytes of one request (a scanned code's hex fits easily)
Reply = dict[str, Any]
Handler = Callable[[str, Mapping[str, Any]], Reply]


class ControlError(Exception):
    """Raised by a handler for a request it refuses: becomes ``{"ok": false, ...}``."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message or code


class SimControlError(RuntimeError):
    """A simulator refused a request (the client side of :class:`ControlError`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def answer(handler: Handler, line: bytes) -> Reply:
    """The reply to one request line (never raises)."""
    if len(line) > MAX_LINE:
        return {"ok": False, "error": "line_too_long",
                "message": f"a request is at most {MAX_LINE} bytes"}
    try:
        request = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return {"ok": False, "error": "not_utf8", "message": f"byte {exc.start + 1}"}
    except ValueError:
        return {"ok": False, "error": "bad_json", "message": "not a JSON object"}
    if not isinstance(request, dict) or not isinstance(request.get("op"), str):
        return {"ok": False, "error": "bad_request", "message": 'expected {"op": NAME, ...}'}
    op = request["op"]
    try:
        reply = handler(op, request)
    except ControlError as exc:
        return {"ok": False, "error": exc.code, "message": exc.message}
    except (KeyError, TypeError, ValueError) as exc:
        return {"ok": False, "error": "bad_request", "message": f"{op}: {exc}"}
    except Exception as exc:  # one bad request must not stop the control socket
        log.exception("simulator control op %s failed", op)
        return {"ok": False, "error": "failed", "message": type(exc).__name__}
    return {"ok": True, **reply}


class ControlServer:
    """Serves ``handler(op, request) -> reply fields`` on a UNIX socket at ``path``."""

    def __init__(self, path: str, handler: Handler, *, name: str = "sim") -> None:
        self.path = path
        self.handler = handler
        self.name = name
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> ControlServer:
        parent = os.path.dirname(self.path)
        if parent:
            os.makedirs(parent, mode=0o700, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # a stale socket of a killed simulator
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # owner-only from the start
        try:
            sock.bind(self.path)
        finally:
            os.umask(old)
        sock.listen(8)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept_loop, name=f"{self.name}-control",
                                        daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux
            sock.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self._thread = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            sock = self._sock
            if sock is None:
                return
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True,
                             name=f"{self.name}-control-conn").start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as fh:
            conn.settimeout(30)
            with contextlib.suppress(OSError):
                while not self._stop.is_set():
                    line = fh.readline(MAX_LINE + 1)
                    if not line:
                        return
                    reply = answer(self.handler, line.rstrip(b"\r\n"))
                    fh.write(json.dumps(reply, ensure_ascii=False).encode("utf-8") + b"\n")
                    fh.flush()
                    if reply.get("error") == "line_too_long":
                        return  # the rest of that line is not read: end the connection


class SimClient:
    """The client of a simulator's control socket (one connection per request)."""

    def __init__(self, path: str, timeout: float = 10.0) -> None:
        self.path = path
        self.timeout = timeout

    def request(self, request: Mapping[str, Any]) -> Reply:
        """Send one request; the reply as is (``ok`` true or false)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(self.timeout)
            sock.connect(self.path)
            with sock.makefile("rwb") as fh:
                fh.write(json.dumps(dict(request), ensure_ascii=False).encode("utf-8") + b"\n")
                fh.flush()
                line = fh.readline(MAX_LINE + 1)
        if not line:
            raise SimControlError("no_reply", "the simulator closed the connection")
        reply: Reply = json.loads(line)
        return reply

    def call(self, op: str, **args: Any) -> Reply:
        """Run ``op``; its reply, or :class:`SimControlError` when the simulator refused."""
        reply = self.request({"op": op, **args})
        if not reply.get("ok"):
            raise SimControlError(str(reply.get("error")), str(reply.get("message", "")))
        return reply
