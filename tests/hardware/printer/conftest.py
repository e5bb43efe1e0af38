"""A real private cupsd for the whole folder, and a fresh emulator + raw queue per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hardware.printer.config import PrinterConfig
from hardware.printer.cupsd import PrivateCupsd
from hardware.printer.driver import CupsPrinter
from hardware.printer.emulator import PrinterEmulator

_names = itertools.count(1)


@pytest.fixture(scope="session")
def cupsd() -> Iterator[PrivateCupsd]:
    daemon = PrivateCupsd()  # its own root under /tmp, searchable by lp
    daemon.start()  # raises CupsdError with the log tail: the tests fail, never skip
    yield daemon
    daemon.cleanup()


@dataclass
class Rig:
    cupsd: PrivateCupsd
    emulator: PrinterEmulator
    queue: str
    state_dir: Path

    def printer(self, **cfg: object) -> CupsPrinter:
        options: dict[str, object] = {"queue": self.queue, "probe_timeout_s": 1.0,
                                      "debounce_s": 1.0}
        options.update(cfg)
        return CupsPrinter(PrinterConfig.model_validate(options), server=self.cupsd.server,
                           state_dir=self.state_dir)


@pytest.fixture
def rig(cupsd: PrivateCupsd, tmp_path: Path) -> Iterator[Rig]:
    if not cupsd.running():  # a test stopped it: bring it back (same spool, same queues)
        cupsd.start()
    emulator = PrinterEmulator(tmp_path / "spool").start()
    queue = f"q{next(_names)}"
    cupsd.add_raw_queue(queue, f"socket://127.0.0.1:{emulator.port}")
    yield Rig(cupsd, emulator, queue, tmp_path / "state")
    emulator.stop()
