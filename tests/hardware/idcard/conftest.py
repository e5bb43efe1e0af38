"""Fixtures: the ID-card simulator on a real pty and a reader attached to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hardware.idcard.config import IdCardConfig
from hardware.idcard.driver import IdCardReader
from hardware.idcard.simulator import IdCardSimulator
from hardware.idcard.transport import SerialTransport


@pytest.fixture
def sim() -> Iterator[IdCardSimulator]:
    simulator = IdCardSimulator(baud=115200)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def reader(sim: IdCardSimulator) -> Iterator[IdCardReader]:
    cfg = IdCardConfig(port=sim.path, baud=115200, read_timeout_s=2.0, poll_interval_s=0.05)
    transport = SerialTransport(lambda: sim.path, 115200)
    transport.open()
    dev = IdCardReader(cfg, transport)
    yield dev
    dev.close()
