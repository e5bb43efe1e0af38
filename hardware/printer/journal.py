"""The durable print journal: one print per document id, across retries, restarts and crashes.

SQLite in ``state_dir/print-journal.sqlite3`` with ``synchronous=FULL`` (every commit is
fsync'd), the folder 0700 and the database (and its -wal/-shm) 0600. It holds no personal
data: the document id is stored as a salted SHA-256 (the salt is the journal's own random
value), plus CUPS job ids, states and times.

Lifecycle of a row: ``submitting`` (written *before* the IPP request; the job id is added as
soon as Create-Job answers) -> ``submitted`` (the document is in CUPS) -> a final state
``completed`` | ``aborted`` | ``canceled`` | ``failed`` (never reached CUPS, or its upload was
cut and the empty job purged), or ``unknown`` (deadline passed and the cancel could not be
confirmed). A later call for the same document looks the job up in CUPS instead of printing
again.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass

from hardware.files import private_dir, private_file

FINAL_PRINTED = "completed"
RETRYABLE = frozenset({"aborted", "canceled", "failed"})
FINAL = frozenset({FINAL_PRINTED, "aborted", "canceled", "failed"})
_TAG = re.compile(r"kiosk-([0-9a-f]{16})-([0-9]+)")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prints (
    doc_key TEXT PRIMARY KEY,
    job_tag TEXT NOT NULL,
    job_id INTEGER,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
"""


@dataclass(frozen=True)
class JournalEntry:
    doc_key: str
    job_tag: str  # the CUPS job-name, to find a job whose id was never recorded
    job_id: int | None
    state: str
    attempts: int


class PrintJournal:
    """A small, fsync'd SQLite table of print attempts keyed by hashed document id."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        path = private_dir(state_dir)
        self.path = private_file(path / "print-journal.sqlite3")
        for suffix in ("-wal", "-shm"):  # left by a version that created them 0644
            if (path / f"{self.path.name}{suffix}").exists():
                private_file(path / f"{self.path.name}{suffix}")
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT value FROM meta WHERE key='salt'").fetchone()
        if row is None:
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('salt', ?)",
                             (secrets.token_hex(16),))
            row = self._db.execute("SELECT value FROM meta WHERE key='salt'").fetchone()
        self._salt = str(row[0])

    def key(self, doc_id: str) -> str:
        return hashlib.sha256(f"{self._salt}:{doc_id}".encode()).hexdigest()

    def get(self, doc_key: str) -> JournalEntry | None:
        with self._lock:
            row = self._db.execute(
                "SELECT doc_key, job_tag, job_id, state, attempts FROM prints WHERE doc_key=?",
                (doc_key,)).fetchone()
        return JournalEntry(*row) if row else None

    def begin(self, doc_key: str) -> JournalEntry:
        """Record an attempt *before* submitting; returns the entry with a fresh job tag."""
        now = time.time()
        with self._lock:
            old = self._db.execute("SELECT attempts FROM prints WHERE doc_key=?",
                                   (doc_key,)).fetchone()
            attempts = (int(old[0]) + 1) if old else 1
            tag = f"kiosk-{doc_key[:16]}-{attempts}"
            self._db.execute(
                "INSERT INTO prints (doc_key, job_tag, job_id, state, attempts, created, updated)"
                " VALUES (?, ?, NULL, 'submitting', ?, ?, ?) ON CONFLICT(doc_key) DO UPDATE SET"
                " job_tag=excluded.job_tag, job_id=NULL, state='submitting',"
                " attempts=excluded.attempts, updated=excluded.updated",
                (doc_key, tag, attempts, now, now))
        return JournalEntry(doc_key, tag, None, "submitting", attempts)

    def update(self, doc_key: str, state: str, job_id: int | None = None) -> None:
        with self._lock:
            if job_id is None:
                self._db.execute("UPDATE prints SET state=?, updated=? WHERE doc_key=?",
                                 (state, time.time(), doc_key))
            else:
                self._db.execute("UPDATE prints SET state=?, job_id=?, updated=? WHERE doc_key=?",
                                 (state, job_id, time.time(), doc_key))

    def set_job(self, doc_key: str, job_tag: str, job_id: int) -> bool:
        """Record the job id of the attempt tagged ``job_tag`` (only if it is still the current
        attempt: an abandoned late answer never overwrites a newer one)."""
        with self._lock:
            cur = self._db.execute("UPDATE prints SET job_id=?, updated=? WHERE doc_key=? AND "
                                   "job_tag=?", (job_id, time.time(), doc_key, job_tag))
        return cur.rowcount == 1

    def owner_of(self, job_tag: str) -> JournalEntry | None:
        """The entry whose document a CUPS job-name ``job_tag`` belongs to (this or an
        earlier attempt), or ``None`` when the job is not one of this journal's."""
        match = _TAG.fullmatch(job_tag)
        if match is None:
            return None
        with self._lock:
            rows = self._db.execute(
                "SELECT doc_key, job_tag, job_id, state, attempts FROM prints "
                "WHERE substr(doc_key, 1, 16)=?", (match.group(1),)).fetchall()
        for row in rows:
            if int(match.group(2)) <= int(row[4]):
                return JournalEntry(*row)
        return None

    def count(self, state: str | None = None) -> int:
        with self._lock:
            if state is None:
                row = self._db.execute("SELECT COUNT(*) FROM prints").fetchone()
            else:
                row = self._db.execute("SELECT COUNT(*) FROM prints WHERE state=?",
                                       (state,)).fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
