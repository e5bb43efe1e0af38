"""The watchdog gated on liveness: ``WATCHDOG=1`` only while every part of the kiosk lives.

Parts check in with the :class:`LivenessRegistry` in one of two ways:

* a :class:`Heartbeat` (``registry.heartbeat("printer-worker", period_s=10)``): the part calls
  :meth:`Heartbeat.beat` at least every ``period_s``; a thread that hangs or dies goes silent;
* a probe (``registry.watch("journey", journey_thread.is_alive)``): a callable asked at each
  tick, for threads that sleep on a queue and cannot beat.

:class:`Watchdog.tick` is called from the main loop (the UI thread's clock, or the ``--no-ui``
loop), so a hung main loop sends nothing by construction; it sends ``WATCHDOG=1`` every half
``WATCHDOG_USEC`` (the rate sd_watchdog_enabled(3) recommends) only when no part is silent.
The service manager then kills and restarts a kiosk whose UI or workers stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.appliance.notify import Notifier

log = logging.getLogger("kiosk.appliance")

Clock = Callable[[], float]


@dataclass
class _Part:
    name: str
    period_s: float | None = None
    last: float = 0.0
    probe: Callable[[], bool] | None = None


class Heartbeat:
    """One part's check-in: :meth:`beat` at least every ``period_s``; :meth:`retire` when the
    part stops on purpose (a clean shutdown is not a death)."""

    def __init__(self, registry: LivenessRegistry, name: str) -> None:
        self._registry = registry
        self.name = name

    def beat(self) -> None:
        self._registry._beat(self.name)

    def retire(self) -> None:
        self._registry.remove(self.name)


class LivenessRegistry:
    """The parts of the kiosk the watchdog waits for, and when each last showed life."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._parts: dict[str, _Part] = {}

    def heartbeat(self, name: str, period_s: float) -> Heartbeat:
        """Register ``name`` as alive now; it must :meth:`Heartbeat.beat` every ``period_s``."""
        if period_s <= 0:
            raise ValueError("period_s must be positive")
        with self._lock:
            self._parts[name] = _Part(name, period_s=period_s, last=self._clock())
        return Heartbeat(self, name)

    def watch(self, name: str, probe: Callable[[], bool]) -> None:
        """Register ``name`` as alive while ``probe()`` is true (a probe that raises: dead)."""
        with self._lock:
            self._parts[name] = _Part(name, probe=probe)

    def watch_thread(self, name: str, thread: threading.Thread) -> None:
        self.watch(name, thread.is_alive)

    def remove(self, name: str) -> None:
        with self._lock:
            self._parts.pop(name, None)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._parts)

    def _beat(self, name: str) -> None:
        with self._lock:
            part = self._parts.get(name)
            if part is not None:
                part.last = self._clock()

    def silent(self) -> list[str]:
        """The parts that did not show life within their period (sorted)."""
        now = self._clock()
        with self._lock:
            parts = list(self._parts.values())
        out = []
        for part in parts:
            if part.probe is not None:
                try:
                    alive = bool(part.probe())
                except Exception:  # a probe that cannot answer: not alive
                    alive = False
            else:
                alive = part.period_s is not None and now - part.last <= part.period_s
            if not alive:
                out.append(part.name)
        return sorted(out)


class Watchdog:
    """Sends ``WATCHDOG=1`` from the main loop while the registry has no silent part.

    ``interval_s`` defaults to half the service manager's ``WATCHDOG_USEC``; without a
    watchdog (no ``WATCHDOG_USEC``) :meth:`tick` only tracks liveness for :attr:`held`.
    """

    def __init__(self, notifier: Notifier, registry: LivenessRegistry,
                 interval_s: float | None = None, clock: Clock = time.monotonic) -> None:
        self.notifier = notifier
        self.registry = registry
        if interval_s is None and notifier.watchdog_s is not None:
            interval_s = notifier.watchdog_s / 2
        self.interval_s = interval_s
        self._clock = clock
        self._last_ping: float | None = None
        self.held: list[str] = []  # the silent parts the last tick held the pings for
        self.pings = 0

    def tick(self) -> bool:
        """Call from the main loop (at least every ``interval_s``); True when it pinged."""
        silent = self.registry.silent()
        if silent != self.held:
            if silent:
                log.error("watchdog: holding the pings, silent: %s", ", ".join(silent))
                self.notifier.status("watchdog held: " + ", ".join(silent) + " silent")
            else:
                log.info("watchdog: every part is alive again")
            self.held = silent
        if silent or self.interval_s is None:
            return False
        now = self._clock()
        if self._last_ping is not None and now - self._last_ping < self.interval_s:
            return False
        if self.notifier.watchdog():
            self._last_ping = now
            self.pings += 1
            return True
        return False
