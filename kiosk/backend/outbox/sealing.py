"""The outbox key and the sealing of personal fields (AES-256-GCM, the row's key as AAD).

The key lives in its own file (base64, 0600); the database keeps only the key's id, so a
kiosk can tell "this is not the key these rows were sealed with" from "there is no key yet".
A key is created only when no stored row would need the old one: a lost key stops delivery
loudly (:class:`OutboxKeyError`) instead of silently orphaning every pending submission.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kiosk.files import private_dir


class OutboxKeyError(Exception):
    """The outbox key is missing, unreadable, or not the key the stored rows need."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class Unsealable(Exception):
    """A stored blob cannot be opened with this key (damaged or sealed under another key)."""


def key_id(key: bytes) -> str:
    """A public fingerprint of ``key`` (safe to store beside the data it seals)."""
    return hashlib.sha256(b"kiosk-outbox-key-id:" + key).hexdigest()[:16]


def read_key(path: str | Path) -> bytes | None:
    """The 256-bit key at ``path``; None if there is no file; OutboxKeyError if unusable."""
    p = Path(path)
    try:
        text = p.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise OutboxKeyError(f"outbox.key_file {p}: unreadable ({type(exc).__name__})",
                             code="outbox_key_unreadable") from exc
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise OutboxKeyError(f"outbox.key_file {p}: not base64", code="outbox_key_unreadable") \
            from exc
    if len(key) != 32:
        raise OutboxKeyError(f"outbox.key_file {p}: not a 256-bit key",
                             code="outbox_key_unreadable")
    return key


def create_key(path: str | Path) -> bytes:
    """A new key written to ``path`` (0600, fsynced); refuses to replace an existing file."""
    p = Path(path)
    private_dir(p.parent)
    key = AESGCM.generate_key(bit_length=256)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(base64.b64encode(key).decode() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return key


class Sealer:
    """Seals JSON values under the outbox key, bound to a row by its associated data."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self.key_id = key_id(key)

    def seal(self, value: Any, aad: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, json.dumps(value).encode("utf-8"),
                                          aad.encode())

    def open(self, blob: bytes, aad: str) -> Any:
        try:
            plain = self._aead.decrypt(blob[:12], blob[12:], aad.encode())
            return json.loads(plain)
        except (InvalidTag, ValueError) as exc:
            raise Unsealable(type(exc).__name__) from exc
