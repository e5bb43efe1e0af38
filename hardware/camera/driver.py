"""The camera device: a grab thread into a one-frame buffer, a watchdog for ``no_frames``,
a blocking ``latest_frame`` for verification and a non-blocking ``preview`` for the UI."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hardware.base import Device, DeviceStatus, HealthLevel, HealthResult
from hardware.camera.config import CameraConfig
from hardware.camera.source import FrameSource
from hardware.events import FrameSourceOffline, FrameSourceOnline
from hardware.memory import wipe
from hardware.roles import Frame, Preview

if TYPE_CHECKING:  # the simulator (and its face renderer) load only for sim:// sources
    from hardware.camera.simulator import FaceSimulator

log = logging.getLogger("hardware.camera")

__all__ = ["CameraDevice", "Frame", "Preview"]


class CameraDevice(Device):
    """A :class:`~hardware.roles.Camera` over any frame source (V4L2/OpenCV device, video
    file, image folder, simulator).

    Status ``online`` while frames arrive; ``offline`` + ``camera: no_frames`` after
    ``offline_after_s`` without one (FrameSourceOnline / FrameSourceOffline go to the sink).
    Frames live only in memory and are wiped on close. A ``simulator`` is owned: closed by
    :meth:`close`.
    """

    name = "camera"

    def __init__(self, cfg: CameraConfig, source: FrameSource, *,
                 simulator: FaceSimulator | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.source = source
        self.simulator = simulator
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._seq = 0
        self._taken = 0
        self._last_at = 0.0
        self._started_at = 0.0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._update(DeviceStatus.OFFLINE, camera="no_frames")

    # -- lifecycle ------------------------------------------------------------------------
    def _start(self) -> None:
        """Start grabbing and watching for missing frames."""
        if self._threads:
            return
        self._started_at = time.monotonic()
        for target, name in ((self._grab, "camera-grab"), (self._watch, "camera-watch")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self.source.close()
        for t in self._threads:
            t.join(timeout=2.0)
        self._threads.clear()
        with self._cond:
            if self._frame is not None:
                self._frame.setflags(write=True)
                wipe(self._frame)
            self._frame = None
        if self.simulator is not None:
            self.simulator.close()
            self.simulator = None
        self._offline()
        super().close()

    def _online(self) -> None:
        if self._status is not DeviceStatus.ONLINE:
            self._update(DeviceStatus.ONLINE, camera="ok")
            self.emit(FrameSourceOnline(self.source.kind))

    def _offline(self) -> None:
        was_online = self._status is DeviceStatus.ONLINE
        self._update(DeviceStatus.OFFLINE, camera="no_frames")
        if was_online:
            self.emit(FrameSourceOffline(self.source.kind))

    def _grab(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self.source.read()
            except Exception:  # a driver hiccup must not kill the grab thread
                log.exception("camera read failed")
                self.count("errors")
                self._stop.wait(0.2)
                continue
            if frame is None:
                continue
            frame.setflags(write=False)
            with self._cond:
                self._frame = frame
                self._seq += 1
                self._last_at = time.monotonic()
                self._cond.notify_all()
            self.count("frames")
            self._online()

    def _watch(self) -> None:
        step = min(0.25, self.cfg.offline_after_s / 4)
        while not self._stop.wait(step):
            last = self._last_at or self._started_at
            stale = time.monotonic() - last >= self.cfg.offline_after_s
            if stale and self._status is DeviceStatus.ONLINE:
                log.warning("camera: no frames for %.1f s", self.cfg.offline_after_s)
                self._offline()

    # -- frames ---------------------------------------------------------------------------
    def latest_frame(self, timeout: float = 1.0) -> Frame | None:
        """A copy of a frame newer than the last one this method returned, or None."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._seq <= self._taken or self._frame is None:
                left = end - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    return None
                self._cond.wait(left)
            self._taken = self._seq
            frame = self._frame.copy()
        self.count("served")  # frames handed to face checks, decoders, tests (not previews)
        return frame

    def preview(self) -> Preview | None:
        """The newest frame without waiting (for the UI's preview; never blocks on I/O)."""
        with self._cond:
            if self._frame is None:
                return None
            return Preview(self._seq, self._frame, self._last_at)

    def wait_preview(self, after: int, timeout: float) -> Preview | None:
        """The newest frame once one newer than frame number ``after`` is there (waits up to
        ``timeout``, then None): the UI's mirror on its worker wakes once per frame instead
        of polling; like :meth:`preview`, it takes nothing from the face check's frames."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._frame is None or self._seq <= after:
                left = end - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    return None
                self._cond.wait(left)
            return Preview(self._seq, self._frame, self._last_at)

    def frames(self, timeout: float = 0.5) -> Callable[[], Frame | None]:
        """A ``frames()`` callable for FaceVerifier.verify / LivenessChecker.run."""
        return lambda: self.latest_frame(timeout)

    def on_challenge(self, challenge: str | None) -> None:
        """Tell the simulated person the liveness challenge (a real camera ignores it)."""
        if self.simulator is not None:
            self.simulator.on_challenge(challenge)

    # -- description ----------------------------------------------------------------------
    def capabilities(self) -> dict[str, Any]:
        return {"source": self.source.kind, "width": self.cfg.width, "height": self.cfg.height,
                "fps": self.cfg.fps}

    def inventory(self) -> dict[str, Any]:
        return {"model": self.source.kind, "driver": "opencv",
                "simulated": self.simulator is not None}

    def check_health(self, level: HealthLevel = HealthLevel.INTERNAL) -> HealthResult:
        if level is not HealthLevel.INTERNAL and self._threads:
            self.latest_frame(min(2.0, self.cfg.offline_after_s))
        ok = self._status is DeviceStatus.ONLINE
        state = self.details.get("camera", "no_frames")
        return HealthResult(self.name, level, ok, self._status, f"camera: {state}",
                            {"camera": state, "frames": self.counters.get("frames", 0)})
