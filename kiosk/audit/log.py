"""The audit log: one JSON line a record, chained and keyed, anchored outside its file.

Each record carries the SHA-256 of the line before it (``prev``) and an HMAC-SHA256 of itself
(``mac``, key in the kiosk's secrets folder); after every append a checkpoint (seq, hash of the
last line, MAC) is replaced atomically next to the key (:mod:`kiosk.audit.anchor`). So a
changed, swapped, removed or added record, an edited last line, a cut tail, an emptied file
and a chain recomputed without the key all fail :meth:`AuditLog.verify`, which names the first
bad record. Records hold outcome codes and pseudonyms, never names, ID numbers, codes or images.

Opening a log for append verifies it first and refuses to extend one that does not verify
(:class:`AuditError`), so an edit is never laundered into a valid chain. :meth:`AuditLog.open`
is what the kiosk calls: it logs the refusal, sets the file aside as evidence
(``audit.jsonl.<UTC time>.broken``, with its checkpoint; ``.unkeyed`` for a file written before
records carried MACs, whose end is then anchored by a checkpoint) and starts a new segment
whose first record, ``audit.segment``, names the file set aside and why. A file changed under a
running kiosk is set aside the same way at the next append (``.changed``).

An interrupted append (power cut) is not tampering: a last line cut before its newline is
dropped, a checkpoint one record behind is moved on, and an ``audit.recovered`` record says so.
One writer per file (the kiosk process); readers (``kiosk diag audit verify``) any time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kiosk.audit.anchor import (
    GENESIS,
    AnchorError,
    Head,
    canonical,
    checkpoint_path,
    create_key,
    key_path,
    make_head,
    read_checkpoint,
    read_key,
    record_mac,
    write_checkpoint,
)
from kiosk.audit.verify import Verification, verify_with
from kiosk.files import private_dir, private_file

__all__ = ["GENESIS", "AuditError", "AuditLog", "AuditRecord", "Head"]

log = logging.getLogger("kiosk.audit")

# refuse anything that looks like an ID number, a credit code or a signed code
_PERSONAL = re.compile(r"\d{17}[\dXx]|[0-9A-HJ-NPQRTUWXY]{18}|GZ(?:ID|DOC)1\.")


class AuditError(Exception):
    """The chain does not verify (``code``, ``line``: the first bad record), or a record would
    carry personal data (``code`` ``personal_data``)."""

    def __init__(self, message: str, *, code: str = "invalid", line: int | None = None,
                 verification: Verification | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.line = line
        self.verification = verification

    @classmethod
    def from_result(cls, result: Verification) -> AuditError:
        return cls(f"{Path(result.file).name}: {result.reason}", code=result.code or "broken",
                   line=result.line, verification=result)


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
    mac: str = ""

    def body(self) -> dict[str, Any]:
        data = asdict(self)
        del data["mac"]
        return data

    def line(self) -> str:
        return canonical({**self.body(), "mac": self.mac})


class AuditLog:
    """Appends records durably (fsync, then the checkpoint) and verifies the chain.

    The constructor opens for append and raises :class:`AuditError` when the file does not
    verify; :meth:`open` sets such a file aside and starts a new segment instead.
    ``secrets_dir`` holds the key and the checkpoint (default ``secrets`` next to the file).
    """

    def __init__(self, path: str | Path, kiosk_id: str, *,
                 secrets_dir: str | Path | None = None) -> None:
        self.path = Path(path)
        self.kiosk_id = kiosk_id
        self.secrets_dir = Path(secrets_dir) if secrets_dir is not None \
            else self.path.parent / "secrets"
        self._checkpoint = checkpoint_path(self.secrets_dir, self.path)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._key = self._load_key()
        result = verify_with(self.path, self._key, self._checkpoint)
        if not result.ok:
            raise AuditError.from_result(result)
        self._adopt(result)

    # -- opening --------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, kiosk_id: str, *,
             secrets_dir: str | Path | None = None) -> AuditLog:
        """Open for append; a file that does not verify is set aside and a new segment
        started (see the module docstring). Raises only when no segment can be written."""
        try:
            return cls(path, kiosk_id, secrets_dir=secrets_dir)
        except AuditError as exc:
            problem = exc
        p = Path(path)
        secrets = Path(secrets_dir) if secrets_dir is not None else p.parent / "secrets"
        aside = _set_aside(p, secrets, problem)
        if problem.code == "key_damaged":  # nothing can be checked with it: keep it, aside
            damaged = key_path(secrets)
            os.replace(damaged, _aside_name(damaged, "damaged"))
        log.error("audit log %s not continued (%s, line %s: %s); kept as %s, new segment",
                  p.name, problem.code, problem.line, problem, aside.name)
        fresh = cls(p, kiosk_id, secrets_dir=secrets)
        fresh.append("audit.segment", "started", reason=problem.code,
                     previous=aside.name, previous_line=problem.line)
        return fresh

    def _load_key(self) -> bytes:
        try:
            key = read_key(self.secrets_dir)
        except AnchorError as exc:
            raise AuditError(str(exc), code=exc.code) from None
        if key is not None:
            return key
        if self._checkpoint.exists() or _first_record_keyed(self.path):
            raise AuditError(f"{self.path.name}: the audit key is missing; its records cannot "
                             "be checked (a new key is never made for them)", code="key_missing")
        if _has_records(self.path):
            raise AuditError(f"{self.path.name}: written before records carried MACs; not "
                             "extended", code="unkeyed")
        return create_key(self.secrets_dir)

    def _adopt(self, result: Verification) -> None:
        """Take over a verified file: create it, or finish an interrupted append."""
        if result.status == "unkeyed":  # an unkeyed file with a checkpoint: set aside before
            raise AuditError(f"{self.path.name}: records carry no MAC; not extended",
                             code="unkeyed", verification=result)
        private_dir(self.secrets_dir)
        private_file(self.path)
        if result.torn:
            with open(self.path, "r+b") as fh:
                fh.truncate(result.end)
                fh.flush()
                os.fsync(fh.fileno())
        self._seq, self._prev = result.records, result.last_hash
        self._end, self._last_start = result.end, result.last_start
        self._head = make_head(self._key, self._seq, self._prev)
        if result.head != self._head:
            write_checkpoint(self._checkpoint, self._head)
        st = os.stat(self.path)
        self._ident = (st.st_dev, st.st_ino)
        if result.torn or result.behind:
            log.warning("audit log %s: an interrupted append was finished", self.path.name)
            self.append("audit.recovered", "interrupted_append",
                        torn=result.torn, checkpoint_behind=result.behind)

    # -- appending ------------------------------------------------------------------------
    def append(self, event: str, outcome: str, subject: str | None = None,
               **detail: Any) -> AuditRecord:
        for value in (event, outcome, subject or "", json.dumps(detail, ensure_ascii=False)):
            if _PERSONAL.search(value):
                raise AuditError(f"audit record for {event!r} would carry personal data",
                                 code="personal_data")
        with self._lock:
            changed = self._changed()
            if changed is not None:
                self._new_segment(changed)
            return self._append(event, outcome, subject, detail)

    def _append(self, event: str, outcome: str, subject: str | None,
                detail: dict[str, Any]) -> AuditRecord:
        draft = AuditRecord(self._seq + 1, time.time(), self.kiosk_id, event, outcome,
                            subject, detail, self._prev)
        record = AuditRecord(**{**draft.body(), "mac": record_mac(self._key, draft.body())})
        data = (record.line() + "\n").encode("ascii")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        digest = hashlib.sha256(data[:-1]).hexdigest()
        self._seq, self._prev = record.seq, digest
        self._last_start, self._end = self._end, self._end + len(data)
        self._head = make_head(self._key, self._seq, digest)
        write_checkpoint(self._checkpoint, self._head)
        return record

    def _changed(self) -> str | None:
        """Why the file is no longer what this object last wrote, or ``None``."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return "removed_while_open"
        if (st.st_dev, st.st_ino) != self._ident or st.st_size != self._end:
            return "changed_while_open"
        if self._seq:
            with open(self.path, "rb") as fh:
                fh.seek(self._last_start)
                last = fh.read(self._end - self._last_start)
            if hashlib.sha256(last.rstrip(b"\n")).hexdigest() != self._prev:
                return "changed_while_open"
        return None

    def _new_segment(self, reason: str) -> None:
        """Set the changed file aside with the checkpoint of what this object wrote (so its
        verification shows the change), then start a new segment."""
        aside = _aside_name(self.path, "changed")
        if self.path.exists():
            os.replace(self.path, aside)
        write_checkpoint(checkpoint_path(self.secrets_dir, aside), self._head)
        log.error("audit log %s changed while open (%s); kept as %s, new segment",
                  self.path.name, reason, aside.name)
        private_file(self.path)
        self._seq, self._prev, self._end, self._last_start = 0, GENESIS, 0, 0
        self._head = make_head(self._key, 0, GENESIS)
        write_checkpoint(self._checkpoint, self._head)
        st = os.stat(self.path)
        self._ident = (st.st_dev, st.st_ino)
        self._append("audit.segment", "started", None,
                     {"reason": reason, "previous": aside.name, "previous_line": None})

    # -- reading --------------------------------------------------------------------------
    def head(self) -> Head:
        """``(seq, hash, mac)`` of the last record, for the fleet heartbeat: an operator who
        keeps a copy can tell a log later cut back and given an old checkpoint."""
        with self._lock:
            return self._head

    def check(self) -> Verification:
        """Verify the file as it is on disk now; never raises for a broken chain."""
        return verify_with(self.path, self._key, self._checkpoint)

    def verify(self) -> int:
        """Check the whole chain; return the number of records or raise AuditError naming the
        first bad record."""
        result = self.check()
        if not result.ok:
            raise AuditError.from_result(result)
        return result.records


def _first_record_keyed(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            first = fh.readline()
        return "mac" in json.loads(first)
    except (OSError, ValueError, TypeError):
        return False


def _has_records(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def _aside_name(path: Path, kind: str) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.{stamp}.{kind}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.{stamp}-{n}.{kind}")
    return aside


def _set_aside(path: Path, secrets: Path, problem: AuditError) -> Path:
    """Move a file that is not continued (and its checkpoint) aside; anchor an unkeyed one."""
    aside = _aside_name(path, "unkeyed" if problem.code == "unkeyed" else "broken")
    checkpoint = checkpoint_path(secrets, path)
    if path.exists():
        os.replace(path, aside)
    if checkpoint.exists():
        os.replace(checkpoint, checkpoint_path(secrets, aside))
    elif problem.code == "unkeyed":
        try:
            key = read_key(secrets) or create_key(secrets)
        except AnchorError:
            return aside
        unkeyed = verify_with(aside, None, checkpoint_path(secrets, aside))
        if unkeyed.ok:  # anchor its end now: from here on a cut or edit of it shows
            write_checkpoint(checkpoint_path(secrets, aside),
                             make_head(key, unkeyed.records, unkeyed.last_hash))
    return aside


def read_head(path: str | Path, secrets_dir: str | Path | None = None) -> Head | None:
    """The checkpoint of the log at ``path`` without opening it for append."""
    p = Path(path)
    secrets = Path(secrets_dir) if secrets_dir is not None else p.parent / "secrets"
    try:
        return read_checkpoint(checkpoint_path(secrets, p))
    except AnchorError:
        return None
