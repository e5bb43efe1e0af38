"""The kiosk's side of the service manager, in one object with a narrow hook.

``kiosk run`` (or the UI main loop) does, and only does::

    link = ServiceLink.from_env()          # before starting threads (unsets NOTIFY_SOCKET)
    link.liveness.watch_thread("journey", t) / link.liveness.heartbeat("printer", 10)
    link.ready(core.summary(), busy=False) # once the UI drew its first frame and the core is up
    link.tick(busy=..., held=...)          # every ~0.5 s from the main loop / UI clock
    link.stopping()                        # on shutdown, before the core stops

The status line (``systemctl status``, ``systemctl show -p StatusText``) is
``session=idle|busy|held, <device summary>``: ``kiosk-update`` reads it to switch releases at
an idle moment (``held``: idle, and no new journey may start; :mod:`kiosk.appliance.hold`)
and to compare the devices before and after an update. It holds no personal data.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from kiosk.appliance.notify import Notifier
from kiosk.appliance.watchdog import Clock, LivenessRegistry, Watchdog


def status_line(summary: str, busy: bool, held: bool = False) -> str:
    session = "busy" if busy else "held" if held else "idle"
    return f"session={session}, {summary}" if summary else f"session={session}"


def parse_status(text: str) -> dict[str, str]:
    """``"session=idle, idcard=online, ..."`` -> ``{"session": "idle", "idcard": "online"}``."""
    out = {}
    for item in text.split(","):
        key, sep, value = item.strip().partition("=")
        if sep and key:
            out[key] = value
    return out


class ServiceLink:
    """Readiness, status and the liveness-gated watchdog for one kiosk process."""

    def __init__(self, notifier: Notifier, clock: Clock = time.monotonic) -> None:
        self.notifier = notifier
        self.liveness = LivenessRegistry(clock)
        self.watchdog = Watchdog(notifier, self.liveness, clock=clock)
        self._summary = ""
        self._status: str | None = None
        self.is_ready = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceLink:
        return cls(Notifier(environ) if environ is not None else Notifier.from_env())

    def ready(self, summary: str = "", busy: bool = False) -> None:
        """READY=1 with the status line (call once the UI and the core are up)."""
        self._summary = summary
        self._status = status_line(summary, busy)
        self.notifier.ready(self._status)
        self.is_ready = True
        self.watchdog.tick()

    def tick(self, busy: bool = False, summary: str | None = None, held: bool = False) -> bool:
        """From the main loop: the status when it changed, then the watchdog; True on a ping.
        ``held``: the kiosk is held for a restart (reported as ``session=held`` when idle)."""
        if summary is not None:
            self._summary = summary
        status = status_line(self._summary, busy, held)
        if self.is_ready and status != self._status and not self.watchdog.held:
            self.notifier.status(status)
            self._status = status
        return self.watchdog.tick() if self.is_ready else False

    def stopping(self) -> None:
        self.notifier.stopping("stopping")
