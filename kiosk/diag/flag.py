"""The out-of-service flag a person sets, kept on disk: the maintenance screen, ``kiosk diag
service`` over SSH and the fleet agent (:meth:`kiosk.core.KioskCore.set_out_of_service`) all
set the same one, and it survives a restart.

``service-flag.json`` under the var dir (0600), replaced atomically; present means out of
service, absent means no one has said so (the kiosk decides from its faults)::

    {"by": "technician" | "operator", "note": "...", "at": UNIX, "via": "screen" | "cli" | "fleet"}

(``by`` and ``note`` are what the core writes and reads at start; ``at`` and ``via`` are
added here.) The note is redacted (a person typed it) and cut to 200 characters. Readers
watch the file's identity (inode, mtime, size), so each change is applied once.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk.diag.redact import redact_text
from kiosk.files import write_private

FILE_NAME = "service-flag.json"  # the core's SERVICE_FLAG_FILE
BY = ("technician", "operator")
VIA = ("screen", "cli", "fleet")
MAX_NOTE = 200


class FlagError(ValueError):
    """A flag that cannot be written as asked (unknown ``by`` or ``via``)."""


@dataclass(frozen=True)
class ServiceFlag:
    """A person's decision that the kiosk is out of service."""

    by: str
    note: str
    at: float | None = None
    via: str = "fleet"
    version: tuple[int, int, int] = (0, 0, 0)  # (inode, mtime_ns, size): which write this is

    @property
    def out(self) -> bool:
        return True


class FlagFile:
    """Reads and writes the flag; :meth:`read` costs one ``stat`` while nothing changed."""

    def __init__(self, var_dir: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(var_dir) / FILE_NAME
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: ServiceFlag | None = None

    def read(self) -> ServiceFlag | None:
        """The flag now, or None. A file that cannot be read is a flag too (by the
        operator, "flag file unreadable"): a person decides, as the core does at start."""
        with self._lock:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                self._cached = None
                return None
            version = (st.st_ino, st.st_mtime_ns, st.st_size)
            if self._cached is None or self._cached.version != version:
                self._cached = _parse(self.path, version)
            return self._cached

    def out_of_service(self, *, by: str, note: str, via: str = "screen") -> ServiceFlag:
        if by not in BY:
            raise FlagError(f"by must be one of {', '.join(BY)}")
        if via not in VIA:
            raise FlagError(f"via must be one of {', '.join(VIA)}")
        clean, at = _clean(note), round(self._clock(), 3)
        body = {"by": by, "note": clean, "at": at, "via": via}
        with self._lock:
            write_private(self.path, (json.dumps(body, ensure_ascii=False) + "\n")
                          .encode("utf-8"))
            self._cached = None
        flag = self.read()
        return flag if flag is not None else ServiceFlag(by, clean, at, via)

    def back_in_service(self) -> None:
        with self._lock, contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
            self._cached = None


def _clean(note: str) -> str:
    text = " ".join(redact_text(note, source="kiosk").split())
    return text[:MAX_NOTE] or "-"


def _parse(path: Path, version: tuple[int, int, int]) -> ServiceFlag:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except (OSError, ValueError):
        return ServiceFlag("operator", "flag file unreadable", None, "fleet", version)
    by = data.get("by") if data.get("by") in BY else "operator"
    note = data.get("note") if isinstance(data.get("note"), str) else ""
    at = data.get("at") if isinstance(data.get("at"), int | float) else None
    via = data.get("via") if data.get("via") in VIA else "fleet"
    return ServiceFlag(str(by), _clean(str(note)), None if at is None else float(at),
                       str(via), version)
