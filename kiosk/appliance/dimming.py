"""When the display dims: outside the opening hours (``appliance.dim_when_closed``), and
optionally after ``appliance.dim_after_idle_s`` on the attract screen with nobody touching
it; a touch brightens it for ``appliance.wake_s``, and opening time brightens it for good.

:class:`Dimmer` decides; the backlight (:mod:`hardware.display.backlight`) writes on its own
thread, so :meth:`Dimmer.update` and :meth:`Dimmer.touch` never block (the UI thread calls
``touch``). Only a change of level is sent to the backlight.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal

from hardware.display.backlight import Backlight, BacklightStatus
from kiosk.appliance.config import ApplianceConfig

log = logging.getLogger("kiosk.appliance.dimming")

Why = Literal["open", "closed", "idle", "woken"]


class Dimmer:
    """Sets the backlight from the hours, the attract screen's idleness and touches."""

    def __init__(self, backlight: Backlight, settings: Callable[[], ApplianceConfig],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.backlight = backlight
        self.settings = settings
        self.clock = clock
        self._lock = threading.Lock()
        self._woken_until = float("-inf")
        self._idle_since = clock()
        self._closed = False
        self._attract = True
        self._sent: float | None = None
        self.why: Why = "open"

    @property
    def status(self) -> BacklightStatus:
        return self.backlight.status

    @property
    def dimmed(self) -> bool:
        return self.why in ("closed", "idle")

    def touch(self) -> None:
        """Someone touched the screen: not idle; a dimmed screen is bright now and for
        ``wake_s`` (each touch meanwhile extends it)."""
        with self._lock:
            now = self.clock()
            self._idle_since = now
            if self.why != "open":
                self._woken_until = now + self.settings().wake_s
        self.update()

    def update(self, *, closed: bool | None = None, attract: bool | None = None) -> float:
        """Take the hours (``closed``) and the screen (``attract``) when given; set the
        level they call for; return it."""
        cfg = self.settings()
        with self._lock:
            now = self.clock()
            if closed is not None:
                if self._closed and not closed:  # opening time: bright, idle from now
                    self._woken_until = float("-inf")
                    self._idle_since = now
                self._closed = closed
            if attract is not None:
                if attract and not self._attract:
                    self._idle_since = now  # back at the attract screen: idle from now
                self._attract = attract
            why: Why = "open"
            if self._closed and cfg.dim_when_closed and self._attract:
                why = "closed"  # (never over a citizen's session in its closing grace)
            elif cfg.dim_after_idle_s is not None and self._attract \
                    and now - self._idle_since >= cfg.dim_after_idle_s:
                why = "idle"
            if why != "open" and now < self._woken_until:
                why = "woken"
            level = cfg.dim_level if why in ("closed", "idle") else cfg.bright_level
            changed = level != self._sent
            if why != self.why:
                log.info("display: %s (level %.2f)", why, level)
            self.why = why
            self._sent = level
        if changed:
            self.backlight.set_level(level)
        return level

    def close(self) -> None:
        self.backlight.close()
