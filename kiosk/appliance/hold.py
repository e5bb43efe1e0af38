"""Holding the kiosk for a restart at an idle moment, without a race.

Checking "is the kiosk idle?" and then restarting it leaves a gap: a citizen who starts a
session in between is cut off. The hold closes it: first no new journey may start (the
session machine's refusal, checked under its lock with the transition), then the kiosk is
idle once the session under way ends (read under the same lock), and stays idle until the
restart or the release. The nightly restart does this inside the kiosk
(:meth:`kiosk.core.KioskCore.request_restart`, then the locked read); ``kiosk-update`` asks
for it from outside through a :class:`HoldFile`:

1. ``kiosk-update`` writes ``<var_dir>/update-hold.json``: the kiosk's main pid (from the
   service manager) and a deadline;
2. the kiosk's main loop (:meth:`KioskHold.turn`) sees it, refuses new journeys, and once the
   session under way has ended reports ``session=held`` in its status line;
3. ``kiosk-update`` switches and restarts only on ``session=held``; the new process has
   another pid and ignores the file, which ``kiosk-update`` removes. Giving up (not idle in
   time) removes it too: the kiosk takes citizens again at its next turn. A ``kiosk-update``
   that dies leaves a file whose deadline passes, and the kiosk lets go by itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kiosk.session.states import State

log = logging.getLogger("kiosk.appliance.hold")

HOLD_FILE = "update-hold.json"
MAX_HOLD_S = 4 * 3600.0  # a request further ahead than this is not honoured
HoldState = Literal["holding", "held"]


@dataclass(frozen=True)
class HoldRequest:
    """Hold the process ``pid`` until ``until`` (wall-clock seconds) for ``by``."""

    pid: int
    until: float
    by: str = "kiosk-update"


class HoldFile:
    """The request file in the kiosk's var dir (readable by the kiosk, no personal data)."""

    def __init__(self, var_dir: str | Path) -> None:
        self.path = Path(var_dir) / HOLD_FILE

    def request(self, pid: int, until: float, by: str = "kiosk-update") -> HoldRequest:
        """Write the request atomically (a temp file renamed over, the folder fsync'd)."""
        req = HoldRequest(int(pid), float(until), by[:40])
        tmp = self.path.with_name(f".{HOLD_FILE}.{os.getpid()}.tmp")
        data = json.dumps({"pid": req.pid, "until": req.until, "by": req.by}).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dirfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)
        return req

    def read(self) -> HoldRequest | None:
        """The request, or None (no file; an unreadable or malformed one counts as none)."""
        try:
            data: Any = json.loads(self.path.read_text(encoding="utf-8"))
            return HoldRequest(int(data["pid"]), float(data["until"]), str(data.get("by", "")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("hold request %s unreadable: ignored", self.path.name)
            return None

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class KioskHold:
    """The kiosk's side: follows the hold file each turn of the main loop.

    ``machine``: the session machine (its ``refusal`` hook is wrapped while held, and its
    :meth:`~kiosk.session.machine.SessionMachine.idle` read under its lock).
    """

    def __init__(self, machine: Any, file: HoldFile | None, *, pid: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.machine = machine
        self.file = file
        self.pid = os.getpid() if pid is None else pid
        self.clock = clock
        self.held_for: str | None = None
        self._before: Callable[[], str | None] | None = None

    def _refusal(self) -> str | None:
        if self.held_for is not None:
            return "restarting"
        return self._before() if self._before is not None else None

    def hold(self, by: str) -> None:
        """No new journey from now on (until :meth:`release`)."""
        if self.held_for is None:
            before = getattr(self.machine, "refusal", None)
            if callable(before) and before != self._refusal:
                self._before = before
                self.machine.refusal = self._refusal
            self.held_for = by
            log.info("held for %s: no new journey", by)

    def release(self) -> None:
        if self.held_for is None:
            return
        log.info("hold for %s released", self.held_for)
        self.held_for = None
        if self._before is not None and getattr(self.machine, "refusal", None) == \
                self._refusal:
            self.machine.refusal = self._before
            self._before = None

    def idle(self) -> bool:
        """No citizen session, read under the machine's lock (after a hold: for good)."""
        idle = getattr(self.machine, "idle", None)
        if callable(idle):
            return bool(idle())
        return bool(self.machine.state is State.ATTRACT)

    def turn(self) -> HoldState | None:
        """Follow the file: ``held`` (held and idle), ``holding`` (held, a session still
        under way) or None (not held)."""
        req = self.file.read() if self.file is not None else None
        now = self.clock()
        if req is None or req.pid != self.pid or not now < req.until <= now + MAX_HOLD_S:
            self.release()
            return None
        self.hold(req.by or "update")
        return "held" if self.idle() else "holding"
