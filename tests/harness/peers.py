"""Starting real peers on free loopback ports for tests: helpers shared by every area.

The private mosquitto lives in :mod:`kiosk.fleet.broker` (the fleet benchmark starts it too)."""

from __future__ import annotations

import time
from collections.abc import Callable

from kiosk.fleet.broker import Mosquitto, free_port, port_open

__all__ = ["Mosquitto", "free_port", "port_open", "wait_until"]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str,
               interval: float = 0.02) -> None:
    """Poll ``predicate`` until true; raise with ``what`` when ``timeout`` passes."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise TimeoutError(f"{what}: not ready after {timeout} s")
        time.sleep(interval)  # polling a peer that has no readiness event of its own
