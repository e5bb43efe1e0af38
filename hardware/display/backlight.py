"""Backlight brightness through sysfs (``Documentation/ABI/stable/sysfs-class-backlight``).

``<root>/<name>/max_brightness`` is read once; ``brightness`` takes a decimal integer from 0
to it. :meth:`SysfsBacklight.set_level` never blocks the caller (the UI thread): it hands the
wanted level to the driver's writer thread, which writes only the newest one. A write that
fails (permissions: the udev rule gives the ``video`` group write access; the service unit
must list the device in ``ReadWritePaths=``) turns the status to ``hardware_error`` with the
errno's name as detail; the next successful write turns it back to ``online``.

With ``name="auto"`` the entry is chosen as desktops do: ``firmware`` before ``platform``
before ``raw`` (the ``type`` file), then by name.
"""

from __future__ import annotations

import enum
import errno
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

log = logging.getLogger("hardware.display")

TYPE_ORDER = ("firmware", "platform", "raw")


class BacklightStatus(enum.StrEnum):
    """``unsupported``: no backlight here (nothing to dim; not a fault)."""

    ONLINE = "online"
    UNSUPPORTED = "unsupported"
    HARDWARE_ERROR = "hardware_error"


@dataclass(frozen=True)
class BacklightInfo:
    """What the driver found: the sysfs entry, its real device path, type and maximum."""

    name: str
    path: Path
    device_path: Path
    kind: str
    max_brightness: int


@runtime_checkable
class Backlight(Protocol):
    """The display role: a level from 0 (darkest) to 1 (brightest), set without blocking."""

    @property
    def status(self) -> BacklightStatus: ...

    @property
    def detail(self) -> str: ...

    @property
    def level(self) -> float | None: ...

    def set_level(self, fraction: float) -> None: ...

    def settle(self, timeout: float) -> bool: ...

    def close(self) -> None: ...


class NoBacklight:
    """A display without a backlight to control: every request is accepted and dropped."""

    def __init__(self, detail: str = "no_backlight") -> None:
        self._detail = detail
        self._level: float | None = None

    @property
    def status(self) -> BacklightStatus:
        return BacklightStatus.UNSUPPORTED

    @property
    def detail(self) -> str:
        return self._detail

    @property
    def level(self) -> float | None:
        return self._level

    def set_level(self, fraction: float) -> None:
        self._level = _clamp(fraction)

    def settle(self, timeout: float) -> bool:
        return True

    def close(self) -> None:
        pass


def _clamp(fraction: float) -> float:
    return min(1.0, max(0.0, float(fraction)))


def _read_int(path: Path) -> int:
    return int(path.read_text(encoding="ascii").strip())


def find_backlight(root: Path, name: str = "auto") -> BacklightInfo | None:
    """The entry ``name`` under ``root`` (``auto``: the preferred one), or None."""
    if name == "none" or not root.is_dir():
        return None
    if name != "auto":
        entries = [root / name]
    else:
        entries = sorted(root.iterdir(), key=lambda p: p.name)
    found: list[tuple[int, str, BacklightInfo]] = []
    for entry in entries:
        try:
            top = _read_int(entry / "max_brightness")
        except (OSError, ValueError):
            continue
        if top <= 0:
            continue
        try:
            kind = (entry / "type").read_text(encoding="ascii").strip()
        except OSError:
            kind = "raw"
        rank = TYPE_ORDER.index(kind) if kind in TYPE_ORDER else len(TYPE_ORDER)
        info = BacklightInfo(entry.name, entry, entry.resolve(), kind, top)
        found.append((rank, entry.name, info))
    return min(found, key=lambda f: (f[0], f[1]))[2] if found else None


class SysfsBacklight:
    """One ``/sys/class/backlight/<name>``, written on a worker thread (see the module)."""

    name = "display"

    def __init__(self, info: BacklightInfo) -> None:
        self.info = info
        self._cond = threading.Condition()
        self._target: int | None = None
        self._written: int | None = None
        self._status = BacklightStatus.ONLINE
        self._detail = "ok"
        self._closed = False
        self.counters = {"writes": 0, "write_errors": 0}
        self._thread = threading.Thread(target=self._run, name="backlight-writer", daemon=True)
        self._thread.start()

    @property
    def status(self) -> BacklightStatus:
        return self._status

    @property
    def detail(self) -> str:
        return self._detail

    @property
    def level(self) -> float | None:
        """The level last written (None before the first write)."""
        written = self._written
        return None if written is None else written / self.info.max_brightness

    def raw_for(self, fraction: float) -> int:
        """The ``brightness`` value for ``fraction``: above 0 it is at least 1 (0 turns
        many panels fully dark)."""
        fraction = _clamp(fraction)
        raw = round(fraction * self.info.max_brightness)
        return max(1, raw) if fraction > 0 else 0

    def set_level(self, fraction: float) -> None:
        with self._cond:
            self._target = self.raw_for(fraction)
            self._cond.notify_all()

    def settle(self, timeout: float) -> bool:
        """Wait until the newest level asked for is written (or failed); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._target is None, timeout)

    def capabilities(self) -> dict[str, object]:
        return {"max_brightness": self.info.max_brightness, "type": self.info.kind}

    def inventory(self) -> dict[str, object]:
        return {"backlight": self.info.name, "device": str(self.info.device_path)}

    def read_back(self) -> int | None:
        """``actual_brightness`` (what the hardware reports), None when unreadable."""
        for name in ("actual_brightness", "brightness"):
            try:
                return _read_int(self.info.path / name)
            except (OSError, ValueError):
                continue
        return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or self._target is not None)
                if self._closed:
                    self._target = None
                    self._cond.notify_all()
                    return
                value = self._target
            if value is None:
                continue
            self._write(value)
            with self._cond:
                if self._target == value:
                    self._target = None
                self._cond.notify_all()

    def _write(self, value: int) -> None:
        try:
            fd = os.open(self.info.path / "brightness", os.O_WRONLY | os.O_TRUNC)  # as `>`
            try:
                os.write(fd, str(value).encode("ascii"))  # sysfs: one write
            finally:
                os.close(fd)
        except OSError as exc:
            self.counters["write_errors"] += 1
            detail = errno.errorcode.get(exc.errno or 0, "write_failed")
            if self._status is not BacklightStatus.HARDWARE_ERROR:
                log.warning("backlight %s: cannot write brightness (%s)", self.info.name,
                            detail)
            self._status, self._detail = BacklightStatus.HARDWARE_ERROR, detail
            return
        self.counters["writes"] += 1
        self._written = value
        if self._status is not BacklightStatus.ONLINE:
            log.info("backlight %s: writable again", self.info.name)
        self._status, self._detail = BacklightStatus.ONLINE, "ok"


def open_backlight(root: str | Path = "/sys/class/backlight",
                   name: str = "auto") -> SysfsBacklight | NoBacklight:
    """The backlight to dim, or :class:`NoBacklight` (status ``unsupported``) when there is
    none: ``name="none"``, no such entry, or no ``root`` at all."""
    if name == "none":
        return NoBacklight("disabled")
    info = find_backlight(Path(root), name)
    if info is None:
        log.info("no backlight under %s (%s): the display is not dimmed", root, name)
        return NoBacklight()
    log.info("backlight %s (%s, max %d)", info.name, info.kind, info.max_brightness)
    return SysfsBacklight(info)
