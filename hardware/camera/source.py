"""Frame sources (the camera transport): a V4L2/OpenCV device, a video file, an image folder,
or frames a simulator produces. Each ``read()`` returns one BGR frame or None and never blocks
for longer than about one frame period plus the device's own latency."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from hardware.base import DeviceNotReady, InvalidData
from hardware.camera.config import CameraConfig
from hardware.sim.url import is_sim_url

Frame = npt.NDArray[Any]  # uint8 BGR
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class FrameSource(Protocol):
    kind: str

    def read(self) -> Frame | None: ...

    def info(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class _Paced:
    """Pacing at the configured fps for sources that are not a real clock: frames are due
    one period apart whatever producing one took (a simulator's render); a source that fell
    behind is paced again from now, without a burst to catch up."""

    def __init__(self, fps: int) -> None:
        self.period = 1.0 / fps
        self.stop = threading.Event()
        self._due = 0.0

    def wait(self) -> bool:
        now = time.monotonic()
        due = self._due + self.period if self._due else now + self.period
        if due < now:
            due = now
        self._due = due
        return not self.stop.wait(max(0.0, due - now))


class SimSource(_Paced):
    """Frames a simulator produces (``sim://faces``), paced at the configured fps."""

    kind = "simulator"

    def __init__(self, cfg: CameraConfig, produce: Callable[[], Frame | None]) -> None:
        super().__init__(cfg.fps)
        self.produce = produce
        self.cfg = cfg

    def read(self) -> Frame | None:
        if not self.wait():
            return None
        frame = self.produce()
        if frame is not None and frame.shape[:2] != (self.cfg.height, self.cfg.width):
            frame = cv2.resize(frame, (self.cfg.width, self.cfg.height))
        return frame

    def info(self) -> dict[str, Any]:
        return {"kind": self.kind, "width": self.cfg.width, "height": self.cfg.height,
                "fps": float(self.cfg.fps)}

    def close(self) -> None:
        self.stop.set()


class FolderSource(_Paced):
    """A folder of still images shown in name order, looping (for simulation)."""

    kind = "folder"

    def __init__(self, cfg: CameraConfig, folder: Path) -> None:
        super().__init__(cfg.fps)
        self.files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise InvalidData("camera folder holds no images", detail="no_images")
        self.cfg = cfg
        self._i = 0

    def read(self) -> Frame | None:
        if not self.wait():
            return None
        path = self.files[self._i % len(self.files)]
        self._i += 1
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        return None if frame is None else np.asarray(frame, dtype=np.uint8)

    def info(self) -> dict[str, Any]:
        return {"kind": self.kind, "width": self.cfg.width, "height": self.cfg.height,
                "fps": float(self.cfg.fps), "images": len(self.files)}

    def close(self) -> None:
        self.stop.set()


class CaptureSource:
    """OpenCV ``VideoCapture`` on a device index, a device path or a video file (looped)."""

    def __init__(self, cfg: CameraConfig, target: str) -> None:
        self.cfg = cfg
        self.is_file = Path(target).is_file() and not target.startswith("/dev/")
        self.kind = "file" if self.is_file else "device"
        arg: int | str = int(target) if target.isdigit() else target
        self.cap = cv2.VideoCapture(arg)
        if not self.cap.isOpened():
            raise DeviceNotReady("camera could not be opened", detail="no_device")
        if not self.is_file:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, cfg.width)
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, cfg.height)
            self.cap.set(cv2.CAP_PROP_FPS, cfg.fps)
        self._pace = _Paced(cfg.fps) if self.is_file else None
        self._lock = threading.Lock()

    def read(self) -> Frame | None:
        if self._pace is not None and not self._pace.wait():
            return None
        with self._lock:
            ok, frame = self.cap.read()
            if not ok and self.is_file:  # loop the video
                self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, frame = self.cap.read()
        return np.asarray(frame, dtype=np.uint8) if ok and frame is not None else None

    def info(self) -> dict[str, Any]:
        with self._lock:
            return {"kind": self.kind,
                    "width": int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                    "height": int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                    "fps": float(self.cap.get(cv2.CAP_PROP_FPS))}

    def close(self) -> None:
        if self._pace is not None:
            self._pace.stop.set()
        with self._lock:
            self.cap.release()


def open_source(cfg: CameraConfig, source: str | None = None) -> FrameSource:
    """Build the hardware source named by ``source`` (default ``cfg.source``); ``sim://``
    sources are opened by the factory (:mod:`hardware.camera.factory`)."""
    target = source if source is not None else cfg.source
    if is_sim_url(target):
        raise InvalidData("simulated sources are opened by the camera factory",
                          detail="bad_source")
    path = Path(target)
    if path.is_dir():
        return FolderSource(cfg, path)
    return CaptureSource(cfg, target)
