"""QR commands: ``kiosk diag qr decode|listen`` and ``kiosk sim qr``.

Technician commands print the scanned text on request (that is their purpose); nothing is
logged or written to disk. (``kiosk sim identity-code``, the demo's phone, is the platform's:
:mod:`kiosk.demo.cli`.)
"""

from __future__ import annotations

import queue
import signal
import sys
import threading
import time
from typing import Any

import click

from hardware.cli_site import site_or_defaults
from hardware.diag_output import printable, to_json


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
    from hardware.base import DeviceError
    from hardware.events import CodeScanned, ScanRejected
    from hardware.qr.config import QrConfig
    from hardware.qr.factory import create
    from hardware.sim.url import SimUrlError

    events: queue.Queue[Any] = queue.Queue()
    section = QrConfig.model_validate({"port": port, "baud": baud, "suffix": suffix,
                                       "trigger": trigger, "dedup_window_s": dedup_s})
    site = site_or_defaults()
    try:
        scanner = create(section, site.context)
    except (DeviceError, SimUrlError) as exc:
        site.context.sims.close()
        click.echo(f"cannot open the scanner: {exc}", err=True)
        sys.exit(2)
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
        site.context.sims.close()


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    return stop


@click.command("qr")
@click.option("--suffix", type=click.Choice(["cr", "crlf"]), default="cr", show_default=True)
@click.option("--trigger", is_flag=True, help="only scan while triggered (16 54 0D)")
@click.option("--control", "control_path", help="control socket path (default: a temp dir)")
def sim(suffix: str, trigger: bool, control_path: str | None) -> None:
    """Run a QR scanner simulator; prints the pty path it serves on the first line.

    Stderr names the stable link and the control socket (JSON lines; ``kiosk sim ctl SOCKET
    scan text=...``, see hardware/sim/README.md). Stops on SIGINT/SIGTERM.
    """
    from hardware.qr.simulator import QrScannerSimulator

    registry = site_or_defaults().context.sims
    simulator = QrScannerSimulator(suffix, trigger=trigger,
                                   control_path=registry.control_path("qr", control_path))
    simulator.start()
    stop = _stop_on_signals()
    click.echo(simulator.pty_path)
    click.echo(f"link: {simulator.link_path}", err=True)
    click.echo(f"control: {simulator.control_path}", err=True)
    sys.stdout.flush()
    try:
        stop.wait()
    finally:
        simulator.close()
        registry.close()
