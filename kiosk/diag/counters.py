"""Counters that survive restarts: per device (and ``kiosk`` for sessions), last errors with
their time, the last test print.

One SQLite file under the var dir (``diag-counters.sqlite``), created 0600, in WAL mode with a
busy timeout, so the kiosk, the maintenance CLI and a second process may write at once; a bump
is one ``INSERT ... ON CONFLICT DO UPDATE`` (a fraction of a millisecond). It holds names of
devices and counters, numbers, times and redacted error texts: no personal data.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.diag.redact import redact_text
from kiosk.files import private_file

FILE_NAME = "diag-counters.sqlite"
KIOSK = "kiosk"  # the "device" of kiosk-wide counters (sessions)
KNOWN = ("sessions", "reads", "read_failures", "prints", "jams", "paper_outs", "errors")
KEEP_ERRORS = 20  # last errors kept per device
_NAME = re.compile(r"[a-z][a-z0-9_.-]{0,39}")
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS counters (device TEXT NOT NULL, counter TEXT NOT NULL, "
    "n INTEGER NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (device, counter))",
    "CREATE TABLE IF NOT EXISTS errors (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "device TEXT NOT NULL, at REAL NOT NULL, code TEXT NOT NULL, text TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS errors_by_device ON errors (device, id)",
    "CREATE TABLE IF NOT EXISTS test_prints (device TEXT PRIMARY KEY, at REAL NOT NULL, "
    "ok INTEGER NOT NULL, detail TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS device_tests (device TEXT PRIMARY KEY, at REAL NOT NULL, "
    "test TEXT NOT NULL, ok INTEGER NOT NULL, detail TEXT NOT NULL)",
)


class CounterError(ValueError):
    """A device or counter name that is not a plain identifier."""


@dataclass(frozen=True)
class ErrorRecord:
    device: str
    at: float  # Unix time
    code: str
    text: str


@dataclass(frozen=True)
class LastPrint:
    device: str
    at: float
    ok: bool
    detail: str


@dataclass(frozen=True)
class LastTest:
    """The last guided test of a device on the maintenance screen (or ``kiosk diag test``)."""

    device: str
    at: float
    test: str  # read_card | scan_code | camera | print_test_page | internal | external ...
    ok: bool
    detail: str


def _name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise CounterError(f"{what} must match {_NAME.pattern}")
    return value


class CounterStore:
    """The persisted counters of one kiosk; thread-safe, safe beside other processes."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(private_file(self.path), check_same_thread=False,
                                   isolation_level=None, timeout=30)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
            self._db.execute(f"PRAGMA {pragma}")
        with self._lock:
            for statement in _SCHEMA:
                self._db.execute(statement)

    @classmethod
    def in_var_dir(cls, var_dir: str | Path, **kwargs: Any) -> CounterStore:
        return cls(Path(var_dir) / FILE_NAME, **kwargs)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> CounterStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing --------------------------------------------------------------------------
    def bump(self, device: str, counter: str, n: int = 1) -> None:
        """Add ``n`` to a counter (created at 0)."""
        _name(device, "device")
        _name(counter, "counter")
        with self._lock:
            self._db.execute(
                "INSERT INTO counters (device, counter, n, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (device, counter) DO UPDATE SET n = n + excluded.n, "
                "updated_at = excluded.updated_at", (device, counter, int(n), self._clock()))

    def record_error(self, device: str, code: str, text: str) -> None:
        """Count an error of ``device`` and keep it (redacted) among its last errors."""
        _name(device, "device")
        code = redact_text(code)[:60] or "error"
        text = redact_text(text)[:300]
        now = self._clock()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO counters (device, counter, n, updated_at) "
                    "VALUES (?, 'errors', 1, ?) ON CONFLICT (device, counter) "
                    "DO UPDATE SET n = n + 1, updated_at = excluded.updated_at", (device, now))
                self._db.execute("INSERT INTO errors (device, at, code, text) VALUES (?,?,?,?)",
                                 (device, now, code, text))
                self._db.execute(
                    "DELETE FROM errors WHERE device = ? AND id NOT IN (SELECT id FROM errors "
                    "WHERE device = ? ORDER BY id DESC LIMIT ?)", (device, device, KEEP_ERRORS))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def record_test_print(self, device: str, ok: bool, detail: str) -> None:
        _name(device, "device")
        with self._lock:
            self._db.execute(
                "INSERT INTO test_prints (device, at, ok, detail) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (device) DO UPDATE SET at = excluded.at, ok = excluded.ok, "
                "detail = excluded.detail",
                (device, self._clock(), int(bool(ok)), redact_text(detail)[:300]))

    def record_test(self, device: str, test: str, ok: bool, detail: str) -> None:
        """Keep the outcome of a device's guided test (one per device: the last)."""
        _name(device, "device")
        _name(test, "test")
        with self._lock:
            self._db.execute(
                "INSERT INTO device_tests (device, at, test, ok, detail) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (device) DO UPDATE SET at = excluded.at, test = excluded.test, "
                "ok = excluded.ok, detail = excluded.detail",
                (device, self._clock(), test, int(bool(ok)), redact_text(detail)[:300]))

    def reset(self, devices: Iterable[str] | None = None, *, errors: bool = False) -> int:
        """Set counters back to nothing (all, or those of ``devices``); with ``errors`` the
        last errors too. Returns the number of counters removed. The last test print stays."""
        names = None if devices is None else [_name(d, "device") for d in devices]
        where, args = ("", ()) if names is None else \
            (f" WHERE device IN ({','.join('?' * len(names))})", tuple(names))
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                removed = self._db.execute(f"DELETE FROM counters{where}", args).rowcount
                if errors:
                    self._db.execute(f"DELETE FROM errors{where}", args)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return int(removed)

    # -- reading --------------------------------------------------------------------------
    def counters(self, device: str) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT counter, n FROM counters WHERE device = ? "
                                    "ORDER BY counter", (device,)).fetchall()
        return {str(c): int(n) for c, n in rows}

    def all_counters(self) -> dict[str, dict[str, int]]:
        with self._lock:
            rows = self._db.execute("SELECT device, counter, n FROM counters "
                                    "ORDER BY device, counter").fetchall()
        out: dict[str, dict[str, int]] = {}
        for device, counter, n in rows:
            out.setdefault(str(device), {})[str(counter)] = int(n)
        return out

    def last_errors(self, device: str, limit: int = 5) -> list[ErrorRecord]:
        with self._lock:
            rows = self._db.execute("SELECT at, code, text FROM errors WHERE device = ? "
                                    "ORDER BY id DESC LIMIT ?", (device, limit)).fetchall()
        return [ErrorRecord(device, float(at), str(code), str(text)) for at, code, text in rows]

    def last_test_print(self, device: str) -> LastPrint | None:
        with self._lock:
            row = self._db.execute("SELECT at, ok, detail FROM test_prints WHERE device = ?",
                                   (device,)).fetchone()
        return None if row is None else LastPrint(device, float(row[0]), bool(row[1]),
                                                        str(row[2]))

    def last_test(self, device: str) -> LastTest | None:
        with self._lock:
            row = self._db.execute("SELECT at, test, ok, detail FROM device_tests "
                                   "WHERE device = ?", (device,)).fetchone()
        return None if row is None else LastTest(device, float(row[0]), str(row[1]),
                                                 bool(row[2]), str(row[3]))


def watch(device: Any, store: CounterStore) -> Callable[[], None]:
    """Count a device's jams, paper-outs and faults from its status-change events (only what
    changed); returns the unsubscribe function. A device without events is not watched."""
    subscribe = getattr(device, "subscribe", None)
    if not callable(subscribe):
        return lambda: None
    name = str(device.name)

    def on_change(event: Any) -> None:
        changed: Mapping[str, Any] = getattr(event, "changed", {}) or {}
        paper = changed.get("paper")
        if paper == "jam":
            store.bump(name, "jams")
        elif paper == "out":
            store.bump(name, "paper_outs")
        status = changed.get("status")
        if status in ("no_device", "offline", "hardware_error"):
            key = changed.get("message_key") or getattr(device, "details", {}).get("message_key")
            store.record_error(name, str(status), str(key or status))

    unsubscribe: Callable[[], None] = subscribe(on_change)
    return unsubscribe


# driver counter -> persisted counter, per device (the drivers count in memory, per process)
DRIVER_COUNTERS: dict[str, dict[str, str]] = {
    "idcard": {"reads": "reads", "errors": "read_failures"},
    "qr": {"reads": "reads"},
    "printer": {"prints": "prints"},
}


class DriverCounterSync:
    """Adds what the drivers counted since the last call to the persisted counters, so
    reads, read failures and prints survive restarts (call it now and then, and at exit)."""

    def __init__(self, devices: Mapping[str, Any], store: CounterStore) -> None:
        self.devices = devices
        self.store = store
        self._seen: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def __call__(self) -> int:
        """Persist the increases; returns how many counts were added."""
        added = 0
        with self._lock:
            for name, mapping in DRIVER_COUNTERS.items():
                slot = self.devices.get(name)
                device = getattr(slot, "device", None)
                if device is None:
                    continue
                counts = dict(getattr(device, "counters", {}) or {})
                for source, target in mapping.items():
                    now = int(counts.get(source, 0))
                    before = self._seen.get((name, source), 0)
                    if now > before:
                        self.store.bump(name, target, now - before)
                        added += now - before
                    self._seen[(name, source)] = now
        return added
