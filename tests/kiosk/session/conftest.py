"""The kiosk core on simulators for the journey tests (ID card on a pty, simulated camera with
face verification and liveness, the embedded platform, a private cupsd)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kiosk.compose import running
from kiosk.core import KioskCore
from kiosk.simulation import SimulationControls


def sim(core: KioskCore) -> SimulationControls:
    """The simulated world of a simulation-profile kiosk (its simulators' sockets)."""
    assert core.simulation is not None, "not the simulation profile"
    return core.simulation


@pytest.fixture
def core(make_config: Callable[..., Any]) -> Iterator[KioskCore]:
    cfg = make_config(camera__source="sim://faces", face__deadline_s="40")
    with running(cfg) as kiosk:
        yield kiosk
