"""The kiosk core on simulators for the journey tests (ID card on a pty, simulated camera with
face verification and liveness, the embedded platform, a private cupsd)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kiosk.core import KioskCore


@pytest.fixture
def core(make_config: Callable[..., Any]) -> Iterator[KioskCore]:
    cfg = make_config(camera__source="sim://faces", face__deadline_s="40")
    kiosk = KioskCore(cfg)
    kiosk.start()
    try:
        yield kiosk
    finally:
        kiosk.stop()
