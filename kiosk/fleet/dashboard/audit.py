"""Every operator action, written to a hash-chained audit file (:class:`kiosk.audit.AuditLog`):
logins (ok, refused, rate-limited), logouts, commands sent, refused for the role or the CSRF
token, and the kiosks' answers. Records name the operator account, never a password, and
never a name typed at login that is not an account (it may be a mistyped password)."""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path
from typing import Any

from kiosk.audit import AuditLog
from kiosk.audit.log import AuditError
from kiosk.fleet.dashboard.history import History

log = logging.getLogger("kiosk.fleet.dashboard")


class OperatorAudit:
    """Synchronous :meth:`record` for request handlers (the action is on disk before the
    answer); :meth:`record_later` for the MQTT thread, written by a worker of its own."""

    def __init__(self, path: str | Path, *, secrets_dir: str | Path | None = None,
                 history: History | None = None) -> None:
        self.log = AuditLog.open(path, "dashboard", secrets_dir=secrets_dir)
        self.history = history  # the action log the pages show (kept across restarts)
        self._queue: queue.Queue[tuple[str, str, dict[str, Any]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="dashboard-audit",
                                        daemon=True)
        self._thread.start()

    @property
    def path(self) -> Path:
        return self.log.path

    def record(self, event: str, outcome: str, **detail: Any) -> None:
        try:
            self.log.append(event, outcome, **detail)
        except (AuditError, OSError) as exc:
            log.error("dashboard audit: %s not recorded (%s)", event, exc)
        if self.history is not None:
            self.history.action(event, outcome, detail)

    def record_later(self, event: str, outcome: str, **detail: Any) -> None:
        self._queue.put((event, outcome, detail))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written; True when it is."""
        done = threading.Event()
        self._queue.put(("", "", {"_done": done}))
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            event, outcome, detail = item
            done = detail.get("_done")
            if isinstance(done, threading.Event):
                done.set()
                continue
            self.record(event, outcome, **detail)
