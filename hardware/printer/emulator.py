"""An AppSocket (raw TCP, "port 9100", JetDirect) printer emulator with injectable faults.

AppSocket has no framing: the host connects, streams the document, half-closes its side, and
waits for the printer to close (CUPS' ``socket`` backend does exactly this). The emulator stores
each complete job as ``job-NNNN.prn`` in its spool directory, written atomically, so a test or
the demo sees what a real printer would have printed. That is the paper, with a citizen's name
and ID number on it: the folder is 0700 and each job 0600.

Faults (set at run time with :meth:`PrinterEmulator.set_fault`):

``offline``
    the listening socket is closed: connections are refused (printer switched off / unplugged).
``hang``
    connections are accepted but never read (a wedged printer); CUPS' job stays "processing"
    ("Waiting for printer to finish") until someone cancels it.
``paper_out``
    the emulator reads the first ``paper_out_after`` bytes of a job, then stops reading, as an
    AppSocket printer out of paper does. A host that speaks PJL (a job in a PJL envelope,
    ``UEL @PJL ... document UEL``, as :mod:`hardware.printer.pjl_backend` sends) is told: the
    printer answers ``@PJL INFO STATUS`` and, after ``@PJL USTATUS DEVICE=ON``, sends its
    status when it changes (``CODE=41100`` load paper, ``CODE=10001`` ready). Loading paper
    (clearing the fault) lets such a job go on: it is printed once, when its closing UEL
    arrives; a PJL job whose host reset the connection meanwhile (the job canceled) is kept
    as ``job-NNNN.partial`` and never printed.

Clearing ``hang``, or ``paper_out`` under a plain AppSocket job (no PJL, so the host was told
nothing and may have given up long ago), resets the stalled connections (a power-cycled
printer loses the job in progress): what it received is kept as ``job-NNNN.partial``, never
stored as printed. If the host is still writing, its write fails and CUPS aborts the job.

Control from another process goes through the printer simulator's control socket (JSON lines,
:mod:`hardware.sim.control`; :mod:`hardware.printer.simulator` serves :meth:`control`)::

    {"op": "fault", "kind": "offline" | "hang" | "paper_out" | "none"}
    {"op": "status"}  -> {"fault": ..., "port": ..., "jobs": n, "partial": n, "active": n}
    {"op": "jobs", "wait_for": N, "timeout": S}  -> {"jobs": [PATH, ...], "partial": [...]}
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import struct
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hardware.files import PRIVATE_FILE, private_dir
from hardware.sim.control import ControlError, Reply
from hardware.sim.url import FAULTS as ALL_FAULTS

log = logging.getLogger("hardware.printer.emulator")

FAULTS = tuple(ALL_FAULTS["printer"])
MAX_WAIT_S = 120.0  # the longest a "jobs" request may wait for jobs
UEL = b"\x1b%-12345X"  # PJL's Universal Exit Language: opens and closes a PJL job
MAX_PJL_HEADER = 4096
HOST_CHECK_S = 0.1  # how often a printer waiting for paper looks whether the host is there


class PrinterEmulator:
    """An AppSocket printer on 127.0.0.1 that spools every job to a file."""

    def __init__(self, spool_dir: str | os.PathLike[str], port: int = 0, *,
                 host: str = "127.0.0.1", fault: str | None = None,
                 paper_out_after: int = 64) -> None:
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        self.spool_dir = Path(spool_dir)
        self.host = host
        self._port = port
        self.paper_out_after = paper_out_after
        self._fault = fault
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._selector: selectors.BaseSelector | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._workers: set[threading.Thread] = set()
        self._open_conns: set[socket.socket] = set()
        self._seq = 0
        self.active = 0  # connections currently being served
        self.accepted = 0  # connections accepted since start

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._port

    @property
    def fault(self) -> str | None:
        return self._fault

    def start(self) -> PrinterEmulator:
        private_dir(self.spool_dir)
        self._seq = max((_job_number(p) for p in self.spool_dir.glob("job-*")), default=0)
        self._stop.clear()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        if self._fault != "offline":
            self._open_listener()
        elif self._port == 0:
            raise ValueError("an emulator starting offline needs a fixed port")
        self._thread = threading.Thread(target=self._serve, name="printer-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; connections in progress are reset (like a printer switched off)."""
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        with self._cond:
            conns = list(self._open_conns)
            workers = list(self._workers)
            self._cond.notify_all()
        for conn in conns:  # wake blocked reads; the workers then reset the connections
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.shutdown(socket.SHUT_RD)
        for worker in workers:
            worker.join(5)
        for sock in (self._listener, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._listener = self._wake_r = self._wake_w = None
        if self._selector is not None:
            self._selector.close()
            self._selector = None

    def __enter__(self) -> PrinterEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults ---------------------------------------------------------------------------
    def set_fault(self, fault: str | None) -> None:
        """Inject ``offline``, ``hang`` or ``paper_out``; ``None`` clears the fault."""
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        with self._cond:
            previous, self._fault = self._fault, fault
            self._cond.notify_all()
        if previous != fault:
            log.info("emulator fault: %s -> %s", previous, fault)
            if threading.current_thread() is self._thread:
                self._apply_listener()
            elif self._thread is not None:
                self._wake()  # the serving thread opens/closes the listener; wait for it
                with self._cond:
                    self._cond.wait_for(
                        lambda: (self._listener is None) == (self._fault == "offline"), 5)

    # -- spool ----------------------------------------------------------------------------
    def jobs(self) -> list[Path]:
        """Completed jobs, oldest first."""
        return sorted(self.spool_dir.glob("job-*.prn"), key=_job_number)

    def partial_jobs(self) -> list[Path]:
        """What was received of jobs cut short by ``paper_out``."""
        return sorted(self.spool_dir.glob("job-*.partial"), key=_job_number)

    def wait_for_jobs(self, n: int, timeout: float) -> bool:
        """Wait until at least ``n`` complete jobs are in the spool."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.jobs()) >= n, timeout)

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds; it is re-evaluated on every emulator event."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def status(self) -> dict[str, object]:
        return {"fault": self._fault, "port": self._port, "jobs": len(self.jobs()),
                "partial": len(self.partial_jobs()), "active": self.active}

    # -- serving --------------------------------------------------------------------------
    def _open_listener(self) -> None:
        sock = _bind(self.host, self._port)
        self._port = sock.getsockname()[1]
        self._listener = sock
        self._started().register(sock, selectors.EVENT_READ, "print")

    def _close_listener(self) -> None:
        if self._listener is not None:
            self._started().unregister(self._listener)
            self._listener.close()
            self._listener = None

    def _apply_listener(self) -> None:
        if self._fault == "offline":
            self._close_listener()
        elif self._listener is None:
            try:
                self._open_listener()
            except OSError as exc:  # port taken meanwhile: stay offline, say so
                log.error("emulator cannot listen again on %s: %s", self._port, exc)
        with self._cond:
            self._cond.notify_all()

    def _wake(self) -> None:
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")

    def _started(self) -> selectors.BaseSelector:
        if self._selector is None:
            raise RuntimeError("the emulator is not started")
        return self._selector

    def _serve(self) -> None:
        selector = self._started()
        while not self._stop.is_set():
            self._apply_listener()
            for key, _ in selector.select(timeout=None):
                wake = self._wake_r
                if key.data == "wake" and wake is not None:
                    with contextlib.suppress(BlockingIOError):
                        wake.recv(512)
                elif key.data == "print" and self._listener is not None:
                    self._accept_job()

    def _accept_job(self) -> None:
        listener = self._listener
        if listener is None:
            return
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with self._cond:
            self.accepted += 1
            self.active += 1
            self._open_conns.add(conn)
            fault = self._fault
            worker = threading.Thread(target=self._job, args=(conn, fault), daemon=True,
                                      name="printer-emulator-job")
            self._workers.add(worker)
            self._cond.notify_all()
        worker.start()

    def _job(self, conn: socket.socket, fault: str | None) -> None:
        try:
            conn.settimeout(30)
            if fault == "hang":
                self._stall(conn, fault)
                return
            data = _read_up_to(conn, len(UEL) + 4)
            if not data:
                return  # an empty connection is a status probe, not a job
            if data.startswith(UEL + b"@PJL"):
                self._pjl_job(conn, data[len(UEL):])
                return
            if fault == "paper_out":
                while len(data) < self.paper_out_after:
                    chunk = conn.recv(self.paper_out_after - len(data))
                    if not chunk:
                        break
                    data += chunk
                self._stall(conn, fault, data)
                return
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            if self._stop.is_set():  # switched off mid-job: nothing printed
                _reset(conn)
                return
            self._store(bytes(data), ".prn")
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        except OSError as exc:
            log.info("emulator: job connection failed: %s", exc)
        finally:
            conn.close()
            with self._cond:
                self.active -= 1
                self._open_conns.discard(conn)
                self._workers.discard(threading.current_thread())
                self._cond.notify_all()

    def _stall(self, conn: socket.socket, fault: str, data: bytes | bytearray = b"") -> None:
        """A plain AppSocket job on a stalled printer: it stops reading; the host's writes
        back up. Clearing the fault resets the printer: the job in progress is lost, never
        completed (the host is told nothing, so it may have given up long ago)."""
        with self._cond:
            self._cond.wait_for(lambda: self._stop.is_set() or self._fault != fault)
        if data:
            self._store(bytes(data), ".partial")
        _reset(conn)

    # -- PJL ------------------------------------------------------------------------------
    def _pjl_job(self, conn: socket.socket, head: bytes | bytearray) -> None:
        """A job in a PJL envelope: the PJL commands, the document, the closing UEL. Out of
        paper, the printer says so (when asked to: ``USTATUS DEVICE=ON``), waits for paper
        and goes on; a job whose host went away meanwhile, or that never got its closing
        UEL, is kept as ``.partial`` and never printed."""
        document, ustatus = self._pjl_header(conn, bytearray(head))
        while True:
            if self._fault == "paper_out" and len(document) >= self.paper_out_after:
                if not self._out_of_paper(conn, ustatus):
                    if document:
                        self._store(bytes(document), ".partial")
                    _reset(conn)
                    return
                continue
            want = 65536 if self._fault != "paper_out" else self.paper_out_after - len(document)
            chunk = conn.recv(want)
            if not chunk:
                break
            document += chunk
        if self._stop.is_set() or not document.endswith(UEL):
            if document:
                self._store(bytes(document), ".partial")
            _reset(conn)
            return
        self._store(bytes(document[: -len(UEL)]), ".prn")
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)

    def _pjl_header(self, conn: socket.socket, buf: bytearray) -> tuple[bytearray, bool]:
        """Run the ``@PJL`` lines after the opening UEL; the document's first bytes and
        whether the host asked for unsolicited status."""
        ustatus = False
        taken = 0  # header bytes run so far (a header without end is cut off)
        while taken < MAX_PJL_HEADER:
            if buf.startswith(b"@PJL"):
                end = buf.find(b"\n")
                if end < 0:
                    if len(buf) >= MAX_PJL_HEADER:
                        break
                    more = conn.recv(4096)
                    if not more:
                        break
                    buf += more
                    continue
                command = bytes(buf[:end]).strip().upper()
                del buf[: end + 1]
                taken += end + 1
                if command.startswith(b"@PJL USTATUS DEVICE"):
                    ustatus = command.endswith(b"=ON")
                elif command.startswith(b"@PJL INFO STATUS"):
                    self._send_status(conn, b"@PJL INFO STATUS")
                continue
            if len(buf) < 4 and b"@PJL".startswith(bytes(buf)):  # a command on its way?
                more = conn.recv(4096)
                if not more:
                    break
                buf += more
                continue
            break
        return buf, ustatus

    def _out_of_paper(self, conn: socket.socket, ustatus: bool) -> bool:
        """Wait for paper; True once it is loaded (the job goes on), False when the host
        reset the connection (canceled), the printer stopped or another fault came."""
        if ustatus:
            self._send_status(conn)
        with self._cond:
            while not self._stop.is_set() and self._fault == "paper_out":
                if _host_gone(conn):
                    return False
                self._cond.wait(HOST_CHECK_S)  # a reset from the host wakes nobody
            if self._stop.is_set() or self._fault is not None:
                return False
        if ustatus:
            self._send_status(conn)
        return True

    def _send_status(self, conn: socket.socket, header: bytes = b"@PJL USTATUS DEVICE") -> None:
        """A PJL status message: ready, or load paper (41xyz: tray x, media yz)."""
        if self._fault == "paper_out":
            code, display, online = 41100, b"LOAD PAPER TRAY 1", b"FALSE"
        else:
            code, display, online = 10001, b"READY", b"TRUE"
        message = (header + b"\r\nCODE=%d\r\nDISPLAY=\"%s\"\r\nONLINE=%s\r\n\x0c"
                   % (code, display, online))
        with contextlib.suppress(OSError):
            conn.sendall(message)

    def _store(self, data: bytes, suffix: str) -> None:
        with self._cond:
            self._seq += 1
            name = f"job-{self._seq:04d}"
        tmp = self.spool_dir / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.spool_dir / f"{name}{suffix}")
        with self._cond:
            self._cond.notify_all()

    # -- control ------------------------------------------------------------------------
    def control(self, op: str, request: Mapping[str, Any]) -> Reply:
        """One control request (see the module doc) -> its reply fields."""
        if op == "fault":
            kind = str(request["kind"])
            if kind != "none" and kind not in FAULTS:
                raise ControlError("unknown_fault", f"printer faults: {', '.join(FAULTS)}")
            self.set_fault(None if kind == "none" else kind)
            return {"fault": self._fault}
        if op == "status":
            return dict(self.status())
        if op == "jobs":
            wanted = int(request.get("wait_for", 0))
            timeout = min(float(request.get("timeout", 0.0)), MAX_WAIT_S)
            if wanted:
                self.wait_for_jobs(wanted, timeout)
            return {"jobs": [str(p) for p in self.jobs()],
                    "partial": [str(p) for p in self.partial_jobs()]}
        raise ControlError("unknown_op", f"printer ops: fault, status, jobs (not {op!r})")


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(8)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _read_up_to(conn: socket.socket, n: int) -> bytearray:
    """``n`` bytes, or fewer if the host ends the connection first."""
    data = bytearray()
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _host_gone(conn: socket.socket) -> bool:
    """The host reset the connection (its error is pending; nothing is read)."""
    try:
        return conn.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0
    except OSError:
        return True


def _reset(conn: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a printer losing power would."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        conn.close()


def _job_number(path: Path) -> int:
    try:
        return int(path.name.split("-", 1)[1].split(".", 1)[0])
    except (IndexError, ValueError):
        return 0
