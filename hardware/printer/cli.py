"""``kiosk diag printer status|test-page`` and ``kiosk sim printer``.

Exit codes: ``status`` 0 when the queue is usable, 1 otherwise; ``test-page`` 0 only when the
job completed, 1 otherwise; 2 for bad configuration/usage.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from hardware.cli_site import Site, SiteError, load_site, site_or_defaults
from hardware.diag_output import emit as _emit
from hardware.printer.config import PrinterConfig
from hardware.printer.driver import CupsPrinter
from hardware.printer.emulator import FAULTS, PrinterEmulator


def _printer(config_path: str | None, queue: str | None,
             server: str | None) -> tuple[CupsPrinter, Site]:
    """The configured printer (``--printer``/``--server`` override the site's section); a
    ``sim://printer`` server starts the simulator, which the printer owns."""
    from hardware.base import DeviceError
    from hardware.printer.factory import create
    from hardware.sim.url import SimUrlError

    try:
        site = load_site(path=config_path)
    except SiteError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
    section = site.section("printer", PrinterConfig)
    update: dict[str, Any] = {}
    if queue is not None:
        update["queue"] = queue
    if server is not None:
        update["cups_server"] = server
    try:
        return create(section.model_copy(update=update), site.context), site
    except (DeviceError, SimUrlError) as exc:
        site.context.sims.close()
        click.echo(f"cannot open the printer: {exc}", err=True)
        sys.exit(2)


@click.group("printer")
def diag() -> None:
    """CUPS printer: status and a test page."""


_common = [
    click.option("--printer", "queue", default=None, help="CUPS queue (default: printer.queue)"),
    click.option("--server", default=None, help="CUPS server host:port (default: config)"),
    click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None),
    click.option("--json", "as_json", is_flag=True, help="machine-readable output"),
]


def _with_common(fn: Any) -> Any:
    for option in reversed(_common):
        fn = option(fn)
    return fn


@diag.command("status")
@_with_common
def status(queue: str | None, server: str | None, config_path: str | None,
           as_json: bool) -> None:
    """Queue, state, reasons, reachable, jobs pending."""
    printer, site = _printer(config_path, queue, server)
    try:
        report = printer.status_report()
    finally:
        printer.close()
        site.context.sims.close()
    _emit(report, as_json)
    sys.exit(0 if report["status"] in ("online", "busy", "user_error") else 1)


@diag.command("test-page")
@_with_common
@click.option("--timeout", type=click.FloatRange(min=0.5), default=30.0, show_default=True,
              help="seconds until the job is canceled and reported as timeout")
def test_page(queue: str | None, server: str | None, config_path: str | None, as_json: bool,
              timeout: float) -> None:
    """Print a test page and follow it: completed | aborted | canceled | timeout."""
    printer, site = _printer(config_path, queue, server)
    try:
        outcome = printer.test_page(timeout)
    finally:
        printer.close()
        site.context.sims.close()
    data: dict[str, Any] = {"job_id": outcome.job_id, "state": outcome.state,
                            "elapsed_ms": round(outcome.elapsed_ms, 1)}
    if not as_json and outcome.message_key:
        data["message"] = outcome.message_key
    _emit(data, as_json)
    sys.exit(0 if outcome.state == "completed" else 1)


@click.command("printer")
@click.option("--port", type=int, default=9100, show_default=True, help="AppSocket port")
@click.option("--spool", type=click.Path(file_okay=False), default="var/printer-spool",
              show_default=True, help="where each job is stored as job-NNNN.prn")
@click.option("--control", "control_path", default=None,
              help="control socket path (default: a temp dir); JSON lines, see "
                   "hardware/sim/README.md")
@click.option("--fault", type=click.Choice(FAULTS), default=None, help="start with a fault")
@click.option("--cupsd-queue", default=None,
              help="also start a private cupsd with this raw queue in front of the emulator")
def sim(port: int, spool: str, control_path: str | None, fault: str | None,
        cupsd_queue: str | None) -> None:
    """An AppSocket (port 9100) printer emulator with faults: offline, hang, paper_out.

    Prints one JSON line: port, control socket, spool, cups_server and queue. Change its
    fault with ``kiosk sim ctl SOCKET fault kind=paper_out``.
    """
    from hardware.sim.control import ControlServer

    registry = site_or_defaults().context.sims
    emulator = PrinterEmulator(Path(spool), port, fault=fault)
    emulator.start()
    control = ControlServer(registry.control_path("printer", control_path), emulator.control,
                            name="printer-sim").start()
    cupsd = None
    if cupsd_queue:
        from hardware.printer.cupsd import PrivateCupsd

        cupsd = PrivateCupsd().start()
        cupsd.add_raw_queue(cupsd_queue, f"socket://127.0.0.1:{emulator.port}")
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    info = {"port": emulator.port, "control": control.path, "spool": spool,
            "cups_server": cupsd.server if cupsd else None, "queue": cupsd_queue}
    click.echo(json.dumps(info), nl=True)
    sys.stdout.flush()
    try:
        done.wait()
    finally:
        if cupsd is not None:
            cupsd.cleanup()
        control.close()
        emulator.stop()
        registry.close()
