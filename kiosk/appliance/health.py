"""Is the kiosk service healthy after a switch? Asked of the service manager (``systemctl``).

Healthy means: a new main process became ``active`` (``Type=notify``: it sent READY=1) within
``ready_timeout_s``; during ``window_s`` it kept the same pid and ``NRestarts`` (a missed
watchdog or a crash restarts it) and stayed active; and every device that was online before
the switch is online after it (the status line of :mod:`kiosk.appliance.service`).
The switch happens only once the kiosk is held and idle (:meth:`HealthCheck.hold_idle`).
"""

from __future__ import annotations

import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.appliance.hold import HoldFile
from kiosk.appliance.service import parse_status

HOLD_MARGIN_S = 600.0  # the hold outlives the wait by this much (the switch and restart)
PROPERTIES = ("ActiveState", "SubState", "MainPID", "NRestarts", "StatusText")
GOOD = ("online", "ok")


class ServiceError(Exception):
    """systemctl could not be run or did not answer."""


@dataclass(frozen=True)
class ServiceState:
    active: str
    sub: str
    pid: int
    restarts: int
    status: str

    @property
    def session(self) -> str:
        """``idle``, ``busy`` or ``held`` from the status line ('' when it has none)."""
        return parse_status(self.status).get("session", "")

    @property
    def idle(self) -> bool:
        """No citizen being served: not running at all, or its status says idle (or held)."""
        if self.active != "active":
            return True
        return self.session in ("idle", "held")

    def devices(self) -> dict[str, str]:
        return {k: v for k, v in parse_status(self.status).items() if k != "session"}


class Systemctl:
    """``systemctl show|restart`` for one unit (``command`` may be another compatible tool)."""

    def __init__(self, unit: str, command: str = "systemctl") -> None:
        self.unit = unit
        self.command = shlex.split(command)

    def _run(self, *args: str) -> str:
        try:
            done = subprocess.run([*self.command, *args], capture_output=True, text=True,
                                  timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ServiceError(f"systemctl {args[0]}: {exc}") from None
        if done.returncode != 0:
            raise ServiceError(f"systemctl {args[0]} {self.unit}: "
                               f"{(done.stderr or done.stdout).strip()[:300]}")
        return done.stdout

    def show(self) -> ServiceState:
        out = self._run("show", self.unit, "--property=" + ",".join(PROPERTIES))
        props = dict(line.partition("=")[::2] for line in out.splitlines() if "=" in line)
        return ServiceState(props.get("ActiveState", ""), props.get("SubState", ""),
                            int(props.get("MainPID") or 0), int(props.get("NRestarts") or 0),
                            props.get("StatusText", ""))

    def restart(self) -> None:
        self._run("restart", "--no-block", self.unit)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


class HealthCheck:
    """Restart the unit and judge it (see the module docstring)."""

    def __init__(self, service: Systemctl, ready_timeout_s: float, window_s: float,
                 poll_s: float = 0.2, clock: Callable[[], float] = time.monotonic) -> None:
        self.service = service
        self.ready_timeout_s = ready_timeout_s
        self.window_s = window_s
        self.poll_s = poll_s
        self.clock = clock
        self._pause = threading.Event()

    def restart_until_ready(self, before: ServiceState) -> ServiceState | Verdict:
        """Restart; the new main process's state once active, or why it did not get there."""
        self.service.restart()
        deadline = self.clock() + self.ready_timeout_s
        while True:
            state = self.service.show()
            if state.active == "active" and state.pid not in (0, before.pid):
                return state
            if state.active == "failed":
                return Verdict(False, f"the service failed to start ({state.sub})")
            if self.clock() >= deadline:
                return Verdict(False, f"not ready within {self.ready_timeout_s:g} s "
                                      f"({state.active}/{state.sub})")
            self._pause.wait(self.poll_s)

    def run(self, before: ServiceState) -> Verdict:
        ready = self.restart_until_ready(before)
        if isinstance(ready, Verdict):
            return ready
        state = ready
        end = self.clock() + self.window_s
        while self.clock() < end:
            self._pause.wait(self.poll_s)
            state = self.service.show()
            if state.pid != ready.pid or state.restarts != ready.restarts \
                    or state.active != "active":
                return Verdict(False, "restarted during the health window (watchdog or "
                                      f"crash: {state.active}/{state.sub})")
        lost = [name for name, value in before.devices().items()
                if value in GOOD and state.devices().get(name) not in GOOD]
        if lost:
            return Verdict(False, "devices online before are not now: " + ", ".join(lost))
        return Verdict(True)

    def hold_idle(self, timeout_s: float, hold: HoldFile,
                  wall: Callable[[], float] = time.time) -> bool:
        """Hold the kiosk, then wait for it to say ``session=held`` (idle, and no new journey
        can start until it is restarted); True then, or when no kiosk runs at all. False
        when ``timeout_s`` passes first: the caller releases the hold (``hold.clear()``).
        The request names the running main pid, so the restarted process ignores it."""
        deadline = self.clock() + timeout_s
        pid: int | None = None
        while True:
            state = self.service.show()
            if state.active != "active":
                return True  # nobody is served by a kiosk that is not running
            if state.pid != pid:
                pid = state.pid  # (again after a restart of its own)
                hold.request(pid, wall() + timeout_s + HOLD_MARGIN_S)
            if state.session == "held":
                return True
            if self.clock() >= deadline:
                return False
            self._pause.wait(self.poll_s)

    def wait_idle(self, timeout_s: float) -> bool:
        """True once the service is idle (polled), False when ``timeout_s`` passes first."""
        deadline = self.clock() + timeout_s
        while not self.service.show().idle:
            if self.clock() >= deadline:
                return False
            self._pause.wait(max(self.poll_s, 1.0))
        return True
