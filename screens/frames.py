"""Frame-gap measurement: how long the UI thread went without drawing a frame."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class FrameMonitor:
    """Records the gap between consecutive frames (fed from a Clock interval).

    Screen loads (building a screen's widgets) are announced with :meth:`mark_load`; a gap
    that overlaps a load is counted separately, as the issue measures "outside screen loads".
    """

    gaps: list[float] = field(default_factory=list)
    load_gaps: list[float] = field(default_factory=list)
    _last: float | None = None
    _load_frames: int = 0

    def frame(self, _dt: float = 0.0) -> None:
        now = time.perf_counter()
        if self._last is not None:
            gap = now - self._last
            if self._load_frames > 0:
                self.load_gaps.append(gap)
            else:
                self.gaps.append(gap)
        self._load_frames = max(0, self._load_frames - 1)
        self._last = now

    def mark_load(self, frames: int = 3) -> None:
        """This frame builds a screen: its gap and the next ``frames - 1`` (layout, text
        textures of the new widgets) count as the screen load."""
        self._load_frames = max(self._load_frames, frames)

    def reset(self) -> None:
        self.gaps.clear()
        self.load_gaps.clear()
        self._last = None

    def exclude(self, seconds: float) -> None:
        """Leave ``seconds`` out of the current gap: time a test driver spent between two
        turns of the event loop, which a running kiosk does not spend."""
        if self._last is not None:
            self._last += seconds

    def pause(self) -> None:
        """Forget the last frame time (the loop was deliberately not pumped)."""
        self._last = None

    @property
    def max_gap(self) -> float:
        return max(self.gaps, default=0.0)

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.gaps)
        p95 = ordered[int(0.95 * (len(ordered) - 1))] if ordered else 0.0
        return {"frames": float(len(self.gaps)), "max_gap_s": self.max_gap, "p95_gap_s": p95,
                "max_load_gap_s": max(self.load_gaps, default=0.0)}
