#!/usr/bin/python3 -I
"""The CUPS ``socket`` backend of the printer simulator's private cupsd: AppSocket with PJL status.

CUPS' own ``socket`` backend streams a job to port 9100 and cannot tell why a printer stops
reading: a printer out of paper looks like a slow one. A JetDirect-class printer also speaks PJL
on that port, and this backend asks it to (``@PJL USTATUS DEVICE=ON`` and ``@PJL INFO STATUS``
before the job, inside a PJL envelope that ends with the Universal Exit Language), reads the
printer's status messages while the job streams, and tells cupsd the IPP
``printer-state-reasons`` they mean, as every backend does (``STATE: +media-empty-error`` on
its standard error). cupsd keeps the job meanwhile; when the printer says it is ready again the
reason is withdrawn and the job goes on. A canceled job (SIGTERM from cupsd) resets the
connection, so the printer prints nothing of it later.

PJL status codes (HP's PJL reference): ``10xxx`` ready, ``40021``/``40022`` door open,
``41xyz`` load paper (tray ``x``, media ``yz``), ``42xyz`` paper jam.

:mod:`hardware.printer.cupsd` installs this file, stand-alone (standard library only, run by
cupsd as its ``User``), in the private ServerBin; it is not imported by the kiosk.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import struct
import sys
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO, NoReturn
from urllib.parse import urlsplit

UEL = b"\x1b%-12345X"  # PJL's Universal Exit Language: starts and ends a job
HEADER = UEL + b"@PJL\r\n@PJL USTATUS DEVICE=ON\r\n@PJL INFO STATUS\r\n"
TRAILER = UEL
CHUNK = 64 * 1024
RETRY_S = 1.0  # a refused connection is tried again this often (the printer is off)
OK, FAILED = 0, 1  # CUPS_BACKEND_OK, CUPS_BACKEND_FAILED
MANAGED = ("media-empty-error", "media-jam-error", "door-open-error")
_CODE = re.compile(rb"CODE=(\d{5})")
_DISPLAY = re.compile(rb'DISPLAY="([^"\r\n]{0,80})"')


class Canceled(Exception):
    """cupsd asked the backend to stop (the job was canceled or cupsd is stopping)."""


def reasons_for(code: int) -> set[str]:
    """The IPP printer-state-reasons of a PJL status code."""
    if code in (40021, 40022):
        return {"door-open-error"}
    if 41000 <= code <= 41999:
        return {"media-empty-error"}
    if 42000 <= code <= 42999:
        return {"media-jam-error"}
    return set()


def messages(buffer: bytearray) -> Iterator[tuple[int, str]]:
    """Complete PJL status messages (each ends with a form feed) taken from ``buffer``:
    (code, display text)."""
    while (end := buffer.find(b"\x0c")) >= 0:
        message = bytes(buffer[:end])
        del buffer[: end + 1]
        code = _CODE.search(message)
        if code is None:
            continue
        display = _DISPLAY.search(message)
        text = display.group(1).decode("ascii", "replace") if display else ""
        yield int(code.group(1)), text


class Status:
    """What the printer said, told to cupsd as printer-state-reasons (only what changed)."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.reasons: set[str] | None = None  # None: not heard from the printer yet
        self.buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self.buffer += data
        del self.buffer[:-65536]  # a printer that never ends a message holds no memory
        for code, text in messages(self.buffer):
            self.report(code, text)

    def report(self, code: int, text: str) -> None:
        new = reasons_for(code)
        first = self.reasons is None
        old = set() if self.reasons is None else self.reasons
        for reason in sorted(new - old):
            self.say(f"STATE: +{reason}")
        # the first answer also withdraws what an earlier job left set (cupsd keeps reasons)
        for reason in sorted((set(MANAGED) if first else old) - new):
            self.say(f"STATE: -{reason}")
        if new != (self.reasons or set()):
            if "media-empty-error" in new:
                self.say(f"INFO: Out of paper ({text or 'load paper'}).")
            elif new:
                self.say(f"INFO: The printer needs attention ({text or code}).")
            else:
                self.say("INFO: Printing.")
        self.reasons = new


def say(line: str) -> None:
    """One message line to cupsd (one write: lines never interleave)."""
    os.write(2, (line.rstrip("\n") + "\n").encode("utf-8", "replace"))


def address(uri: str) -> tuple[str, int]:
    parts = urlsplit(uri)
    if not parts.hostname:
        raise ValueError("no host in the device URI")
    return parts.hostname, parts.port or 9100


def connect(host: str, port: int, stop: threading.Event) -> socket.socket:
    """Connect, trying again every :data:`RETRY_S` while the printer refuses (cupsd shows
    the stock backend's words, so the kiosk's hints read them alike)."""
    say("STATE: +connecting-to-device")
    say("INFO: Connecting to printer.")
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=10)
        except OSError:
            say("INFO: The printer may not exist or is unavailable at this time.")
            if stop.wait(RETRY_S):
                raise Canceled from None
            continue
        say("STATE: -connecting-to-device")
        say("INFO: Connected to printer.")
        return sock


def pieces(source: BinaryIO, copies: int) -> Iterator[bytes]:
    """The PJL envelope around ``copies`` copies of the document, in chunks."""
    yield HEADER
    for n in range(copies):
        if n:
            source.seek(0)
        while chunk := source.read(CHUNK):
            yield chunk
    yield TRAILER


def stream(sock: socket.socket, chunks: Iterator[bytes], status: Status) -> int:
    """Send ``chunks``, reading the printer's status all along, then wait for the printer to
    finish. Returns the backend's exit status."""
    sock.setblocking(False)
    pending = b""
    sending = True
    while True:
        if sending and not pending:
            pending = next(chunks, b"")
            if not pending:
                sending = False
                sock.shutdown(socket.SHUT_WR)
                say("STATE: +cups-waiting-for-job-completed")
                say("INFO: Waiting for printer to finish.")
        readable, writable, _ = select.select([sock], [sock] if pending else [], [], 1.0)
        if readable:
            try:
                data = sock.recv(4096)
            except OSError as exc:
                say(f"ERROR: The printer reset the connection ({exc.__class__.__name__}).")
                return FAILED
            if not data:
                if sending:
                    say("ERROR: The printer closed the connection before the job ended.")
                    return FAILED
                say("STATE: -cups-waiting-for-job-completed")
                return OK
            status.feed(data)
        if writable and pending:
            try:
                sent = sock.send(pending)
            except BlockingIOError:
                continue
            except OSError as exc:
                say(f"ERROR: The printer reset the connection ({exc.__class__.__name__}).")
                return FAILED
            pending = pending[sent:]


def abort(sock: socket.socket | None) -> None:
    """Reset the connection (RST, nothing more sent): the printer drops the job."""
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def main(argv: list[str]) -> int:
    if len(argv) == 1:  # device discovery: none (the queue names its URI)
        print('network socket "Unknown" "AppSocket with PJL status (kiosk simulator)"')
        return OK
    if len(argv) not in (6, 7):
        say("ERROR: Usage: socket job-id user title copies options [file]")
        return FAILED
    stop = threading.Event()

    def canceled(_signum: int, _frame: object) -> NoReturn:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once is enough
        stop.set()
        raise Canceled

    signal.signal(signal.SIGTERM, canceled)
    sock: socket.socket | None = None
    try:
        host, port = address(os.environ.get("DEVICE_URI") or argv[0])
        source: BinaryIO = open(argv[6], "rb") if len(argv) == 7 else sys.stdin.buffer
        copies = max(1, int(argv[4])) if len(argv) == 7 else 1
        sock = connect(host, port, stop)
        result = stream(sock, pieces(source, copies), Status(say))
        sock.close()
        sock = None
        return result
    except Canceled:
        abort(sock)
        sock = None
        # what only held while this job ran goes; what the printer said last stays (cupsd
        # keeps it: a printer out of paper is still out of paper)
        say("STATE: -connecting-to-device,cups-waiting-for-job-completed")
        return OK
    except (OSError, ValueError) as exc:
        say(f"ERROR: {exc.__class__.__name__}: the job could not be sent.")
        return FAILED
    finally:
        abort(sock)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
