"""Verifying an audit file: the hash chain, every record's MAC, and the end at the checkpoint.

Read only: it never creates a key or a checkpoint. The result names the first bad record
(1-based line number, a stable ``code`` and a sentence), never a record's content.

Statuses: ``ok``; ``unkeyed`` (a file written before records carried MACs: its hash chain
holds, but an edited last line, a cut tail or a recomputed chain cannot be told without a
checkpoint); ``broken``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kiosk.audit.anchor import (
    GENESIS,
    AnchorError,
    Head,
    checkpoint_path,
    head_valid,
    read_checkpoint,
    read_key,
    record_mac,
)

Status = Literal["ok", "unkeyed", "broken"]
_READ_TRIES = 5  # the kiosk may append while we read: take file and checkpoint together


@dataclass
class Verification:
    """The outcome of a check; ``end`` is where the last whole, verified record ends."""

    file: str
    status: Status
    records: int
    keyed: bool
    head: Head | None  # the checkpoint (None: the file has none)
    last_hash: str = GENESIS
    line: int | None = None  # the first bad record
    code: str | None = None
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    end: int = 0
    last_start: int = 0
    torn: bool = False  # a final write without its newline (an interrupted append)
    behind: bool = False  # the checkpoint is one record behind (an interrupted append)

    @property
    def ok(self) -> bool:
        return self.status != "broken"

    def as_dict(self) -> dict[str, Any]:
        bad = None if self.status != "broken" else {
            "line": self.line, "code": self.code, "reason": self.reason}
        return {"file": self.file, "status": self.status, "records": self.records,
                "keyed": self.keyed, "head": self.head.as_dict() if self.head else None,
                "first_bad": bad, "notes": self.notes}


class _Bad(Exception):
    def __init__(self, line: int | None, code: str, reason: str) -> None:
        super().__init__(reason)
        self.line, self.code, self.reason = line, code, reason


def verify_file(path: str | Path, secrets_dir: str | Path | None = None) -> Verification:
    """Verify the audit file at ``path`` with the key and checkpoint in ``secrets_dir``
    (default: ``secrets`` next to the file)."""
    p = Path(path)
    secrets = Path(secrets_dir) if secrets_dir is not None else p.parent / "secrets"
    try:
        key = read_key(secrets)
    except AnchorError as exc:
        return Verification(str(p), "broken", 0, False, None, code=exc.code, reason=str(exc))
    return verify_with(p, key, checkpoint_path(secrets, p))


def verify_with(path: Path, key: bytes | None, checkpoint: Path) -> Verification:
    """Verify ``path`` against ``key`` (None: there is none) and the checkpoint file."""
    for _ in range(_READ_TRIES):
        try:
            before = read_checkpoint(checkpoint)
            data = path.read_bytes() if path.exists() else None
            after = read_checkpoint(checkpoint)
        except AnchorError as exc:
            return Verification(str(path), "broken", 0, False, None, code=exc.code,
                                reason=str(exc))
        except OSError as exc:
            return Verification(str(path), "broken", 0, False, None, code="unreadable",
                                reason=f"cannot read the file: {exc.strerror}")
        if before == after:
            break
    return check_bytes(str(path), data, key, after)


def check_bytes(name: str, data: bytes | None, key: bytes | None,
                head: Head | None) -> Verification:
    """The verification of a file's content ``data`` (None: no file)."""
    result = Verification(name, "ok", 0, False, head)
    try:
        _check(result, data or b"", data is None, key, head)
    except _Bad as bad:
        result.status, result.line, result.code, result.reason = (
            "broken", bad.line, bad.code, f"line {bad.line}: {bad.reason}" if bad.line
            else bad.reason)
    return result


def _check(result: Verification, data: bytes, missing: bool, key: bytes | None,
           head: Head | None) -> None:
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    prev, seq, offset = GENESIS, 0, 0
    hash_at: dict[int, str] = {0: GENESIS}
    keyed: bool | None = None
    for n, raw in enumerate(lines, 1):
        try:
            record = json.loads(raw)
            if not isinstance(record, dict):
                raise ValueError
        except ValueError:
            raise _Bad(n, "not_json", "not a JSON record") from None
        mac = record.pop("mac", None)
        if keyed is None:
            keyed = mac is not None
            if keyed and key is None:
                raise _Bad(n, "key_missing", "records carry MACs but the audit key is "
                           "missing: they cannot be checked")
        elif keyed != (mac is not None):
            raise _Bad(n, "mac_missing" if keyed else "mac_unexpected",
                       "record has no MAC" if keyed else "MAC in an unkeyed file")
        if keyed and key is not None and not (
                isinstance(mac, str) and hmac.compare_digest(mac, record_mac(key, record))):
            raise _Bad(n, "mac_mismatch", "MAC does not match: the record was changed, or "
                       "written without the key")
        if record.get("seq") != seq + 1:
            raise _Bad(n, "seq_gap", f"sequence {record.get('seq')!r} where {seq + 1} was "
                       "expected: a record was removed, added or moved")
        if record.get("prev") != prev:
            raise _Bad(n, "chain_broken", "does not chain to the record before it: that one "
                       "was changed, removed or moved")
        prev, seq = hashlib.sha256(raw).hexdigest(), seq + 1
        hash_at[seq] = prev
        result.last_start = offset
        offset += len(raw) + 1
    result.records, result.keyed, result.last_hash, result.end = seq, bool(keyed), prev, offset
    if tail:
        result.torn = True
        result.notes.append("the last write was cut before its end (an interrupted append); "
                            "it is ignored")
    _check_end(result, seq, hash_at, key, head, missing, len(lines) + 1)


def _check_end(result: Verification, seq: int, hash_at: dict[int, str], key: bytes | None,
               head: Head | None, missing: bool, next_line: int) -> None:
    if head is None:
        if result.keyed:
            raise _Bad(None, "checkpoint_missing", "the checkpoint is missing: a cut tail "
                       "cannot be told")
        if seq == 0:
            return
        if key is not None:
            raise _Bad(None, "checkpoint_missing", "an unkeyed file without a checkpoint on a "
                       "kiosk that has an audit key: its MACs may have been stripped")
        result.status = "unkeyed"
        result.notes.append("records carry no MAC (written before keyed audit): the chain is "
                            "intact, but an edited last line, a cut tail or a recomputed chain "
                            "cannot be told")
        return
    if key is None:
        raise _Bad(None, "key_missing", "a checkpoint exists but the audit key is missing")
    if not head_valid(key, head):
        raise _Bad(None, "checkpoint_mac", "the checkpoint's MAC does not match: it was "
                   "changed")
    if seq < head.seq:
        what = "the file is missing" if missing else (
            "the file is empty" if seq == 0 else f"the file ends at record {seq}")
        raise _Bad(next_line, "tail_cut", f"{what}, the checkpoint is at record {head.seq}: "
                   "records were cut off")
    if hash_at.get(head.seq) != head.hash:
        raise _Bad(head.seq or None, "checkpoint_mismatch", "the record at the checkpoint "
                   "differs from the one it recorded")
    if seq == head.seq + 1 and result.keyed:
        result.behind = True
        result.notes.append("the checkpoint is one record behind (an interrupted append); "
                            "that record's MAC verifies")
    elif seq > head.seq:
        raise _Bad(head.seq + 1, "after_checkpoint", "records after the checkpoint")
    if not result.keyed and seq:
        result.status = "unkeyed"
        result.notes.append("records carry no MAC (written before keyed audit); the end is "
                            "anchored by the checkpoint written when the file was set aside")
