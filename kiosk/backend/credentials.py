"""Per-kiosk credentials: bearer tokens ``<kiosk_id>.<secret>``; the server keeps hashes."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class KioskCredential(BaseModel):
    """What one kiosk keeps (``credentials_file``): its id and its bearer token."""

    model_config = ConfigDict(extra="forbid")

    kiosk_id: str
    token: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 (atomic replace)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class CredentialStore:
    """The server's table of kiosk ids and token hashes (JSON file or in memory)."""

    def __init__(self, hashes: dict[str, str] | None = None, path: Path | None = None) -> None:
        self._hashes = dict(hashes or {})
        self._path = path
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | Path) -> CredentialStore:
        p = Path(path)
        hashes = json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}
        return cls(hashes, p)

    def issue(self, kiosk_id: str) -> KioskCredential:
        """A new token for ``kiosk_id`` (replacing any earlier one); saved if file-backed."""
        if not kiosk_id or "." in kiosk_id or len(kiosk_id) > 64:
            raise ValueError("kiosk id must be 1-64 characters without dots")
        secret = secrets.token_urlsafe(32)
        with self._lock:
            self._hashes[kiosk_id] = _hash(secret)
            if self._path is not None:
                write_private(self._path, json.dumps(self._hashes, indent=1, sort_keys=True))
        return KioskCredential(kiosk_id=kiosk_id, token=f"{kiosk_id}.{secret}")

    def verify(self, token: str) -> str | None:
        """The kiosk id a bearer token belongs to, or None."""
        kiosk_id, _, secret = token.partition(".")
        expected = self._hashes.get(kiosk_id)
        if not secret or expected is None:
            return None
        return kiosk_id if hmac.compare_digest(expected, _hash(secret)) else None


def load_credential(path: str | Path) -> KioskCredential:
    return KioskCredential.model_validate_json(Path(path).read_text(encoding="utf-8"))
