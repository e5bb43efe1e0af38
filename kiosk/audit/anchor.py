"""What anchors the audit chain outside its file: the MAC key and the checkpoint.

* The key: 32 random bytes (hex) in ``<secrets>/audit.key``, 0600 in a 0700 folder, created
  on first use, never replaced: a missing key while keyed records or a checkpoint exist is an
  error, not a reason to make a new one.
* Each record carries ``mac`` = HMAC-SHA256(key, the record's canonical JSON without ``mac``).
* The checkpoint ``<secrets>/<log file name>.head`` holds ``seq``, the SHA-256 of the last
  line and a MAC over both; it is replaced atomically (fsync) after every append. A cut tail
  or an emptied file ends before the checkpoint; an edited line fails its MAC.

What it does not stop: someone who can read the key (root, or the kiosk's own user) can
rewrite everything, and a saved old checkpoint put back with a cut file verifies. Against
those the operator keeps a copy of :meth:`kiosk.audit.AuditLog.head` (fleet heartbeat).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.files import PRIVATE_FILE, private_dir, write_private

GENESIS = "0" * 64
KEY_NAME = "audit.key"
_HEAD_LABEL = b"kiosk-audit-head\n"


class AnchorError(Exception):
    """The key or the checkpoint is unreadable or damaged (``code`` says which)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Head:
    """The end of a chain: ``seq`` of the last record, SHA-256 of its line, and the MAC."""

    seq: int
    hash: str
    mac: str

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "mac": self.mac}


def canonical(record: dict[str, Any]) -> str:
    """The one serialisation records are written in (and MACs computed over)."""
    return json.dumps(record, ensure_ascii=True, sort_keys=True, separators=(",", ":"))


def record_mac(key: bytes, body: dict[str, Any]) -> str:
    """The MAC of a record (``body`` without its ``mac`` field)."""
    return hmac.new(key, canonical(body).encode("ascii"), hashlib.sha256).hexdigest()


def head_mac(key: bytes, seq: int, digest: str) -> str:
    return hmac.new(key, _HEAD_LABEL + f"{seq}\n{digest}".encode("ascii"),
                    hashlib.sha256).hexdigest()


def make_head(key: bytes, seq: int, digest: str) -> Head:
    return Head(seq, digest, head_mac(key, seq, digest))


def head_valid(key: bytes, head: Head) -> bool:
    return hmac.compare_digest(head.mac, head_mac(key, head.seq, head.hash))


def key_path(secrets_dir: Path) -> Path:
    return secrets_dir / KEY_NAME


def checkpoint_path(secrets_dir: Path, log_path: Path) -> Path:
    return secrets_dir / f"{log_path.name}.head"


def read_key(secrets_dir: Path) -> bytes | None:
    """The key, or ``None`` when there is none (never creates one)."""
    path = key_path(secrets_dir)
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise AnchorError("key_unreadable", f"audit key {path} unreadable: {exc}") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise AnchorError("key_damaged", f"audit key {path} is not 32 bytes of hex")
    return key


def create_key(secrets_dir: Path) -> bytes:
    """Make the key (0600, folder 0700) unless one exists; returns the key in place. The
    file appears complete or not at all (written aside, then hard-linked into place)."""
    private_dir(secrets_dir)
    path = key_path(secrets_dir)
    tmp = secrets_dir / f".{KEY_NAME}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    key = read_key(secrets_dir)
    if key is None:
        raise OSError(f"{secrets_dir}: the audit key could not be read back")
    return key


def read_checkpoint(path: Path) -> Head | None:
    """The checkpoint at ``path``; ``None`` when there is none."""
    try:
        data = json.loads(path.read_bytes())
        return Head(int(data["seq"]), str(data["hash"]), str(data["mac"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        raise AnchorError("checkpoint_damaged", f"checkpoint {path.name} unreadable") from None


def write_checkpoint(path: Path, head: Head) -> None:
    private_dir(path.parent)
    write_private(path, (json.dumps(head.as_dict()) + "\n").encode("ascii"))
