"""QR commands: ``kiosk diag qr decode|listen``, ``kiosk sim qr``, ``kiosk sim identity-code``.

Technician commands print the scanned text on request (that is their purpose); nothing is
logged or written to disk apart from an explicitly requested PNG.
"""

from __future__ import annotations

import queue
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from hardware.diag_output import printable, to_json

DEFAULT_KEY = "var/secrets/platform-signing.key"


@click.group("qr")
def diag() -> None:
    """QR scanner and camera decoding diagnostics."""


@diag.command("decode")
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="one JSON line per image")
def decode(images: tuple[str, ...], as_json: bool) -> None:
    """Decode QR codes in IMAGE files with the kiosk's camera decoder.

    Exit status 0, or 2 when an image could not be read (its line has "error").
    """
    import cv2

    from hardware.qr.camera_decode import FrameDecoder

    decoder = FrameDecoder()
    failed = False
    for path in images:
        t0 = time.perf_counter()
        frame = cv2.imread(path, cv2.IMREAD_COLOR)
        record: dict[str, Any] = {"image": path, "codes": []}
        if frame is None:
            failed = True
            record["error"] = "unreadable_image"
        else:
            record["codes"] = [{"type": c.type, "data": c.data, "rect": list(c.rect)}
                               for c in decoder.decode(frame)]
        record["elapsed_ms"] = round((time.perf_counter() - t0) * 1000.0, 3)
        shown = printable(path)
        if as_json:
            click.echo(to_json(record))
        elif "error" in record:
            click.echo(f"{shown}: cannot read image", err=True)
        else:
            click.echo(f"{shown}: {len(record['codes'])} code(s), {record['elapsed_ms']} ms")
            for c in record["codes"]:
                click.echo(f"  {c['type']} at {c['rect']}: {printable(c['data'])}")
    if failed:
        sys.exit(2)


@diag.command("listen")
@click.option("--port", required=True, help="serial device, or sim://qr?...")
@click.option("--suffix", type=click.Choice(["cr", "crlf"]), default="cr", show_default=True)
@click.option("--baud", type=int, default=9600, show_default=True)
@click.option("--trigger", is_flag=True, help="send Honeywell trigger start (16 54 0D)")
@click.option("--dedup", "dedup_s", type=float, default=0.0, show_default=True,
              help="drop repeats of the same code within this many seconds")
@click.option("--count", type=int, default=0, help="exit after this many scans (0: never)")
@click.option("--timeout", "timeout_s", type=float, default=0.0,
              help="exit after this many seconds (0: never)")
@click.option("--json", "as_json", is_flag=True, help="one JSON line per scan")
def listen(port: str, suffix: str, baud: int, trigger: bool, dedup_s: float, count: int,
           timeout_s: float, as_json: bool) -> None:
    """Print every scan from a serial scanner until Ctrl-C (or --count / --timeout).

    JSON lines: {"event": "code_scanned", "data": TEXT, "source": "serial", "at": UNIX}
    or {"event": "scan_rejected", "reason": R, "at": UNIX}; connection changes go to stderr.
    """
    from hardware.qr.events import CodeScanned, ScanRejected
    from hardware.qr.scanner import SerialQrScanner

    events: queue.Queue[Any] = queue.Queue()
    scanner = SerialQrScanner(port, baud=baud, suffix=suffix, trigger=trigger,
                              dedup_window_s=dedup_s)
    scanner.subscribe(lambda ch: click.echo(f"status: {ch.status.value}", err=True))
    scanner.start(events.put)
    stop = _stop_on_signals()
    end = time.monotonic() + timeout_s if timeout_s else None
    seen = 0
    try:
        if trigger and scanner.wait_connected(5):
            scanner.trigger_start()
        while not stop.is_set() and (end is None or time.monotonic() < end):
            try:
                ev = events.get(timeout=0.1)
            except queue.Empty:
                continue
            if isinstance(ev, CodeScanned):
                seen += 1
                rec: dict[str, Any] = {"event": ev.kind, "data": ev.data, "source": ev.source}
            elif isinstance(ev, ScanRejected):
                rec = {"event": ev.kind, "reason": ev.reason}
            else:
                continue
            rec["at"] = round(time.time(), 3)
            if as_json:
                click.echo(to_json(rec))
            else:
                click.echo(printable(rec.get("data") or f"(rejected: {rec['reason']})"))
            if count and seen >= count:
                break
    finally:
        scanner.close()


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    return stop


@click.command("qr")
@click.option("--suffix", type=click.Choice(["cr", "crlf"]), default="cr", show_default=True)
@click.option("--trigger", is_flag=True, help="only scan while triggered (16 54 0D)")
def sim(suffix: str, trigger: bool) -> None:
    """Run a QR scanner simulator; prints the pty path it serves on the first line.

    Stderr names the stable link and the control socket (see hardware.qr.simulator). Lines on
    stdin are commands too: "scan TEXT", or a fault name (partial, garbage, noise, oversized,
    unplug, replug). Stops on SIGINT/SIGTERM.
    """
    from hardware.qr.simulator import FAULTS, QrScannerSimulator

    simulator = QrScannerSimulator(suffix, trigger=trigger).start()
    stop = _stop_on_signals()
    click.echo(simulator.pty_path)
    click.echo(f"link: {simulator.link_path}", err=True)
    click.echo(f"control: {simulator.control_path}", err=True)
    sys.stdout.flush()

    def read_stdin() -> None:
        for line in sys.stdin:
            cmd, _, arg = line.strip().partition(" ")
            try:
                if cmd == "scan":
                    simulator.scan(arg)
                elif cmd in FAULTS:
                    simulator.fault(cmd)
                elif cmd:
                    click.echo(f"unknown command {cmd!r}", err=True)
            except OSError as exc:
                click.echo(f"{cmd}: {exc}", err=True)

    threading.Thread(target=read_stdin, daemon=True).start()
    try:
        while not stop.wait(0.2):
            pass
    finally:
        simulator.close()


@click.command("identity-code")
@click.option("--holder", required=True, help="platform holder reference (not an ID number)")
@click.option("--png", type=click.Path(dir_okay=False), help="also write the code as a PNG")
@click.option("--key", "key_path", default=DEFAULT_KEY, show_default=True,
              help="platform signing key (created, mode 0600, if missing)")
@click.option("--issuer", default=None, help="issuer id (default: the reference platform)")
@click.option("--ttl", type=click.IntRange(1, 60), default=60, show_default=True)
@click.option("--purpose", default="identity", show_default=True)
def sim_identity_code(holder: str, png: str | None, key_path: str, issuer: str | None,
                      ttl: int, purpose: str) -> None:
    """Print a valid dynamic identity code (the demo's phone), optionally as a PNG."""
    from kiosk.identity.codes import DEFAULT_ISSUER, issue_code, load_or_create_signing_key

    try:
        key = load_or_create_signing_key(key_path)
        code = issue_code(key, issuer or DEFAULT_ISSUER, holder, time.time(), ttl, purpose)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(code)
    if png:
        import segno

        Path(png).parent.mkdir(parents=True, exist_ok=True)
        segno.make(code, error="m", micro=False).save(png, scale=6, border=4)
