"""What every running simulator is to the device that owns it, and where they can be reached.

A ``sim://`` URL is opened by the device's factory, like pyserial opens a URL handler; the
device then owns the simulator the same way for every device: ``device.close()`` closes it.
Nothing outside the simulator touches it in-process: the dock, ``kiosk sim ctl`` and tests
talk to its control socket (:mod:`hardware.sim.control`), whose path the
:class:`SimRegistry` of the devices' context records by device name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from typing import Protocol

from hardware.base import DeviceNotReady
from hardware.sim.url import SimUrl, parse_sim_url


class Simulator(Protocol):
    """A running simulator: the control socket it answers on, and how to stop it."""

    @property
    def control_path(self) -> str | None: ...

    def close(self) -> None: ...


class SimulationRefused(DeviceNotReady):
    """A ``sim://`` URL where simulation is not allowed (the production profile)."""


class SimRegistry:
    """Control sockets of the simulators one set of devices started, by device name.

    Sockets go to a private temp folder made on first use (short, for the 108-byte limit of
    UNIX socket paths) unless a URL names one with ``control=PATH``; :meth:`close` removes
    the folder once the simulators are closed.
    """

    def __init__(self, root: str | None = None) -> None:
        self._root = root
        self._made_root = False
        self._controls: dict[str, str] = {}
        self._lock = threading.Lock()

    def control_path(self, device: str, requested: str | None = None) -> str:
        if requested:
            return requested
        with self._lock:
            if self._root is None:
                self._root = tempfile.mkdtemp(prefix="kiosk-sim-")
                self._made_root = True
            return os.path.join(self._root, f"{device}.sock")

    def record(self, device: str, simulator: Simulator) -> None:
        path = simulator.control_path
        if path:
            with self._lock:
                self._controls[device] = path

    def controls(self) -> dict[str, str]:
        """Device name -> control socket path of each simulator started so far."""
        with self._lock:
            return dict(self._controls)

    def close(self) -> None:
        with self._lock:
            root, made = self._root, self._made_root
            self._controls.clear()
        if root and made:
            with contextlib.suppress(OSError):
                os.rmdir(root)  # only when empty: a simulator still running keeps it


def open_url(url: str, device: str, *, allowed: bool) -> SimUrl:
    """Parse a device's ``sim://`` URL, refusing it where simulation is not allowed;
    raises :class:`SimulationRefused` or :class:`~hardware.sim.url.SimUrlError`."""
    if not allowed:
        raise SimulationRefused(f"{device}: a simulator is not allowed here",
                                detail="simulation_refused")
    return parse_sim_url(url, expect=device)
