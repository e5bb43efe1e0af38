"""Technician commands: ``kiosk diag idcard read|sam-id`` and ``kiosk sim idcard``.

``diag idcard read`` prints the card's personal data because a technician asked for it on
purpose; nothing else in the kiosk prints or logs it.
"""

from __future__ import annotations

import signal
import time
from typing import Any, NoReturn

import click

from hardware.base import Deadline, DeviceError
from hardware.cli_site import Site, site_or_defaults
from hardware.diag_output import emit, fail
from hardware.idcard.config import IdCardConfig
from hardware.idcard.driver import IdCardReader
from hardware.sim.url import FAULTS, SimUrlError

EXIT_ERROR = 1


def _open(site: Site, port: str | None, baud: int | None) -> IdCardReader:
    from hardware.idcard.factory import create

    section = site.section("idcard", IdCardConfig)
    section = section.model_copy(update={"port": port or section.port,
                                         "baud": baud or section.baud})
    return create(section, site.context)


def _fail(as_json: bool, code: str, message: str) -> NoReturn:
    fail(code, message, as_json, EXIT_ERROR)


def _show(as_json: bool, data: dict[str, Any]) -> None:
    emit(data, as_json)


def _run(port: str | None, baud: int | None, as_json: bool, action: str,
         timeout: float) -> None:
    started = time.perf_counter()
    reader: IdCardReader | None = None
    site = site_or_defaults()
    try:
        reader = _open(site, port, baud)
        if action == "read":
            card = reader.read_card(Deadline(timeout))
            data = card.as_json()
            card.wipe()
        else:
            data = {"sam_id": reader.sam_id()}
    except DeviceError as exc:
        _fail(as_json, exc.detail, exc.message)
        return
    except SimUrlError as exc:
        _fail(as_json, "bad_port", str(exc))
        return
    except (OSError, ValueError) as exc:
        _fail(as_json, "no_device", f"cannot open the reader: {exc.__class__.__name__}")
        return
    finally:
        if reader is not None:
            reader.close()
        site.context.sims.close()
    data["elapsed_ms"] = round((time.perf_counter() - started) * 1000.0, 1)
    _show(as_json, data)


@click.group("idcard")
def diag() -> None:
    """ID-card reader (SAM) diagnostics."""


@diag.command("read")
@click.option("--port", help="serial device or sim://idcard?... (default: configured port)")
@click.option("--baud", type=int, help="baud rate (default: configured, 115200)")
@click.option("--timeout", "timeout", type=float, default=5.0, show_default=True,
              help="seconds to wait for a card")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def read_command(port: str | None, baud: int | None, timeout: float, as_json: bool) -> None:
    """Read the card on the reader and print its data (personal data, on purpose)."""
    _run(port, baud, as_json, "read", timeout)


@diag.command("sam-id")
@click.option("--port", help="serial device or sim://idcard?... (default: configured port)")
@click.option("--baud", type=int, help="baud rate (default: configured, 115200)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def sam_id_command(port: str | None, baud: int | None, as_json: bool) -> None:
    """Print the SAM module's id."""
    _run(port, baud, as_json, "sam-id", 0.0)


@click.command("idcard")
@click.option("--cards", default="demo", show_default=True, help="deck YAML file, or 'demo'")
@click.option("--baud", type=int, default=115200, show_default=True)
@click.option("--fault", type=click.Choice(list(FAULTS["idcard"])), help="start with a fault")
@click.option("--insert", "insert_key", help="start with this deck card in the field")
@click.option("--control", "control_path", help="control socket path (default: a temp dir)")
def sim(cards: str, baud: int, fault: str | None, insert_key: str | None,
        control_path: str | None) -> None:
    """Serve a simulated SAM reader on a pty; prints its path, runs until stopped.

    Line 1 of the output is the pty path, line 2 ``control: SOCKET``: the simulator's control
    socket (JSON lines; ``kiosk sim ctl SOCKET insert key=chen``, see hardware/sim/README.md).
    """
    from hardware.idcard.simulator import DeckError, IdCardSimulator, load_deck

    registry = site_or_defaults().context.sims
    try:
        deck = load_deck(cards)
        simulator = IdCardSimulator(deck, baud=baud, fault=fault,
                                    control_path=registry.control_path("idcard", control_path))
        if insert_key:
            simulator.insert(insert_key)
    except (DeckError, ValueError) as exc:
        raise click.BadParameter(str(exc)) from None
    except KeyError as exc:
        raise click.BadParameter(f"no card {exc.args[0]!r} in the deck") from None
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)  # threads inherit: sigwait gets them
    simulator.start()
    click.echo(simulator.path)
    click.echo(f"control: {simulator.control_path}")
    try:
        signal.sigwait(stop_signals)
    finally:
        simulator.stop()
        registry.close()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)
