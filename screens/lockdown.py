"""Kiosk lockdown: keyboard escapes ignored, and the hidden technician gesture detector."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("screens.lockdown")

# SDL keycodes: escape, F4 (with Alt), c (with Ctrl), q (with Ctrl), w (with Ctrl)
_ESCAPE = 27
_BLOCKED_WITH_MODIFIER = {285: "alt", 99: "ctrl", 113: "ctrl", 119: "ctrl"}


def is_escape_key(key: int, modifiers: list[str]) -> bool:
    """Would this key (press) let a citizen leave the kiosk application?"""
    if key == _ESCAPE:
        return True
    mod = _BLOCKED_WITH_MODIFIER.get(key)
    return mod is not None and mod in modifiers


class CornerTaps:
    """Detects ``count`` taps within ``window_s`` in a small corner square: the hidden
    gesture reserved for technicians (their login comes with the diagnostics work)."""

    def __init__(self, on_gesture: Callable[[], None], count: int = 5, window_s: float = 3.0,
                 corner_px: float = 80.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.on_gesture = on_gesture
        self.count = count
        self.window_s = window_s
        self.corner_px = corner_px
        self.clock = clock
        self._taps: list[float] = []
        self.detected = 0

    def tap(self, x: float, y: float, height: float) -> bool:
        """Feed a touch-down in window coordinates; True when the gesture completes."""
        if x > self.corner_px or y < height - self.corner_px:  # top-left corner only
            self._taps.clear()
            return False
        now = self.clock()
        self._taps = [t for t in self._taps if now - t <= self.window_s] + [now]
        if len(self._taps) >= self.count:
            self._taps.clear()
            self.detected += 1
            log.info("technician gesture detected")
            self.on_gesture()
            return True
        return False
