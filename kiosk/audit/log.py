"""The audit log: one JSON line a record, each carrying the SHA-256 of the line before it, so
a removed, altered or reordered record breaks the chain. Records hold outcome codes and
pseudonyms, never names, ID numbers, codes or images."""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
# refuse anything that looks like an ID number, a credit code or a signed code
_PERSONAL = re.compile(r"\d{17}[\dXx]|[0-9A-HJ-NPQRTUWXY]{18}|GZ(?:ID|DOC)1\.")


class AuditError(Exception):
    """The chain does not verify, or a record would carry personal data."""


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    at: float
    kiosk: str
    event: str  # e.g. identify.card, identify.code, document.verify, application.submit
    outcome: str  # ok, or a refusal code such as code_replayed, card_expired
    subject: str | None  # a pseudonym (kiosk.privacy.pseudonym), never the raw value
    detail: dict[str, Any]
    prev: str

    def line(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False, sort_keys=True,
                          separators=(",", ":"))


class AuditLog:
    """Appends records durably (fsync) and verifies the chain."""

    def __init__(self, path: str | Path, kiosk_id: str) -> None:
        self.path = Path(path)
        self.kiosk_id = kiosk_id
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._seq, self._prev = self._tail()

    def _tail(self) -> tuple[int, str]:
        if not self.path.exists():
            return 0, GENESIS
        last = None
        with self.path.open("rb") as f:
            for raw in f:
                if raw.strip():
                    last = raw
        if last is None:
            return 0, GENESIS
        try:
            seq = int(json.loads(last)["seq"])
        except (ValueError, KeyError) as exc:
            raise AuditError(f"{self.path}: last record unreadable") from exc
        return seq, hashlib.sha256(last.rstrip(b"\n")).hexdigest()

    def append(self, event: str, outcome: str, subject: str | None = None,
               **detail: Any) -> AuditRecord:
        for value in (event, outcome, subject or "", json.dumps(detail, ensure_ascii=False)):
            if _PERSONAL.search(value):
                raise AuditError(f"audit record for {event!r} would carry personal data")
        with self._lock:
            record = AuditRecord(self._seq + 1, time.time(), self.kiosk_id, event, outcome,
                                 subject, detail, self._prev)
            line = record.line()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (line + "\n").encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            self._seq, self._prev = record.seq, hashlib.sha256(line.encode()).hexdigest()
        return record

    def verify(self) -> int:
        """Check the whole chain; return the number of records or raise AuditError."""
        prev, seq = GENESIS, 0
        if not self.path.exists():
            return 0
        with self.path.open("rb") as f:
            for n, raw in enumerate(f, 1):
                line = raw.rstrip(b"\n")
                try:
                    data = json.loads(line)
                except ValueError as exc:
                    raise AuditError(f"line {n}: not JSON") from exc
                if data.get("prev") != prev or data.get("seq") != seq + 1:
                    raise AuditError(f"line {n}: chain broken")
                prev, seq = hashlib.sha256(line).hexdigest(), data["seq"]
        return seq
