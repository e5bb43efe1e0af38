"""pycups calls with a deadline.

pycups (libcups) has no connect or read timeout: a cupsd that is gone, or stopped with
SIGSTOP, blocks a call for minutes. Each call here is preceded by a socket probe with a
timeout, and runs on a daemon worker thread that owns the ``cups.Connection``; a call that
overruns its deadline abandons that worker (it exits when libcups returns) and the next call
gets a fresh worker and connection.

libcups keeps its server setting per thread, so ``cups.setServer`` is called on the worker.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

import cups

from hardware.base import DeviceNotReady, DeviceTimeout, HardwareError

log = logging.getLogger("hardware.printer.transport")

T = TypeVar("T")

IPP_NOT_FOUND = 1030  # client-error-not-found
IPP_NOT_ACCEPTING = 1286  # server-error-not-accepting-jobs (0x0506)


class IppError(HardwareError):
    """CUPS answered with an IPP error status (``status`` holds the IPP code)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message, detail=f"ipp-{status:#06x}")
        self.status = status


def parse_server(server: str | None) -> tuple[str, int | None]:
    """``host:port`` | ``/run/cups/cups.sock`` | ``None`` (libcups default) -> (host, port)."""
    if not server:
        server = str(cups.getServer())
    if server.startswith("/"):
        return server, None
    host, sep, port = server.rpartition(":")
    if sep and port.isdigit() and host:
        return host.strip("[]"), int(port)
    return server, 631


class _Worker:
    def __init__(self, host: str, port: int | None) -> None:
        self.host, self.port = host, port
        self.jobs: queue.SimpleQueue[tuple[Callable[[Any], Any], Future[Any]] | None] = (
            queue.SimpleQueue())
        self.abandoned = False
        self.thread = threading.Thread(target=self._run, name="cups-worker", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        conn: Any = None
        while True:
            item = self.jobs.get()
            if item is None or self.abandoned:
                return
            fn, fut = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                if conn is None:
                    server = self.host if self.port is None else f"{self.host}:{self.port}"
                    cups.setServer(server)
                    if self.port is None:
                        conn = cups.Connection(host=self.host)
                    else:
                        conn = cups.Connection(host=self.host, port=self.port)
                fut.set_result(fn(conn))
            except cups.IPPError as exc:
                status, text = exc.args if len(exc.args) == 2 else (0, str(exc))
                fut.set_exception(IppError(f"CUPS: {text}", int(status)))
            except (cups.HTTPError, RuntimeError, OSError) as exc:
                conn = None  # reconnect on the next call
                fut.set_exception(DeviceNotReady(f"CUPS connection failed: {exc}",
                                                 detail="cups-unreachable"))
            except DeviceNotReady as exc:  # raised by ``fn`` itself: the connection is suspect
                conn = None
                fut.set_exception(exc)
            except BaseException as exc:  # handed to the caller, whatever it is
                fut.set_exception(exc)


class CupsTransport:
    """Serialised pycups calls on one worker thread, each with a probe and a deadline."""

    def __init__(self, server: str | None, probe_timeout_s: float = 2.0) -> None:
        self.host, self.port = parse_server(server)
        self.probe_timeout_s = probe_timeout_s
        self._lock = threading.Lock()
        self._worker: _Worker | None = None

    @property
    def server(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def probe(self, timeout: float | None = None) -> bool:
        """Can a connection to cupsd be opened within ``timeout``?"""
        timeout = max(0.05, min(timeout or self.probe_timeout_s, self.probe_timeout_s))
        try:
            if self.port is None:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                    sock.settimeout(timeout)
                    sock.connect(self.host)
            else:
                with socket.create_connection((self.host, self.port), timeout=timeout):
                    pass
        except OSError:
            return False
        return True

    def call(self, fn: Callable[[Any], T], timeout: float, *, probe: bool = True) -> T:
        """Run ``fn(connection)`` on the worker; raise DeviceNotReady/DeviceTimeout/IppError."""
        timeout = max(0.05, timeout)
        if probe and not self.probe(timeout):
            self._drop()
            raise DeviceNotReady(f"CUPS at {self.server} is not reachable",
                                 detail="cups-unreachable")
        fut: Future[T] = Future()
        with self._lock:
            if self._worker is None:
                self._worker = _Worker(self.host, self.port)
            worker = self._worker
            worker.jobs.put((fn, fut))
        try:
            return fut.result(timeout)
        except FutureTimeout:
            fut.cancel()
            self._drop(worker)
            log.warning("CUPS call overran %.1fs; worker abandoned", timeout)
            raise DeviceTimeout(f"CUPS at {self.server} did not answer in {timeout:.1f}s",
                                detail="cups-timeout") from None

    def _drop(self, worker: _Worker | None = None) -> None:
        with self._lock:
            current = self._worker
            if current is None or (worker is not None and current is not worker):
                return
            self._worker = None
        current.abandoned = True
        current.jobs.put(None)

    def close(self) -> None:
        self._drop()
