"""A sysfs backlight in a temp dir: ``<base>/devices/<name>/{brightness,max_brightness,
actual_brightness,type,bl_power}`` with ``<base>/class/backlight/<name>`` a symlink to it, as
the kernel lays it out. Point the driver at :attr:`BacklightSim.class_dir`.

Faults: :meth:`BacklightSim.deny_writes` (the brightness file cannot be written: what a
missing udev rule or ``ReadWritePaths=`` looks like, ``EISDIR`` here so it holds even for
root), :meth:`BacklightSim.allow_writes`, :meth:`BacklightSim.unplug`."""

from __future__ import annotations

import shutil
from pathlib import Path


class BacklightSim:
    """One simulated backlight device (see the module docstring)."""

    def __init__(self, base: Path, name: str = "sim_backlight", max_brightness: int = 255,
                 kind: str = "raw", brightness: int | None = None) -> None:
        self.base = base
        self.name = name
        self.class_dir = base / "class" / "backlight"
        self.device = base / "devices" / name
        self.device.mkdir(parents=True, exist_ok=True)
        self.class_dir.mkdir(parents=True, exist_ok=True)
        start = max_brightness if brightness is None else brightness
        for file, value in (("max_brightness", max_brightness), ("brightness", start),
                            ("actual_brightness", start), ("type", kind), ("bl_power", 0)):
            (self.device / file).write_text(f"{value}\n", encoding="ascii")
        link = self.class_dir / name
        if not link.is_symlink():
            link.symlink_to(Path("..") / ".." / "devices" / name)

    @property
    def brightness(self) -> int | None:
        """The value last written; None while a write is in flux (a plain file is truncated
        first, unlike sysfs) or when it cannot be read."""
        try:
            return int((self.device / "brightness").read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None

    def deny_writes(self) -> None:
        path = self.device / "brightness"
        value = path.read_text(encoding="ascii")
        path.unlink()
        path.mkdir()
        (path / ".value").write_text(value, encoding="ascii")

    def allow_writes(self) -> None:
        path = self.device / "brightness"
        if path.is_dir():
            value = (path / ".value").read_text(encoding="ascii")
            shutil.rmtree(path)
            path.write_text(value, encoding="ascii")

    def unplug(self) -> None:
        (self.class_dir / self.name).unlink(missing_ok=True)
        shutil.rmtree(self.device, ignore_errors=True)
