"""Per-kiosk credentials: bearer tokens ``<kiosk_id>.<secret>``; the server keeps hashes.

Both sides follow their file while running, so rotating or revoking a token needs no
restart: the server's :class:`CredentialStore` and the kiosk's :class:`CredentialFile` compare
a ``stat`` of the file (inode, size, mtime, ctime) on every use and re-read it when it
changed. A file changed within the last two seconds is re-read on every use until it is
older, so two changes within one timestamp tick (same size, a reused inode) are still seen.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from kiosk import files

log = logging.getLogger(__name__)

_RACY_NS = 2_000_000_000


class CredentialFileError(ValueError):
    """A credentials file that cannot be used (damaged JSON, wrong shape)."""


class KioskCredential(BaseModel):
    """What one kiosk keeps (``credentials_file``): its id and its bearer token."""

    model_config = ConfigDict(extra="forbid")

    kiosk_id: str
    token: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 (atomic, durable replace)."""
    files.write_private(path, text.encode("utf-8"))


class _Watch:
    """Tells whether a file changed since it was last read (a cheap ``stat``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, ...] | None = None
        self._racy = True

    def signature(self) -> tuple[int, ...] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def changed(self) -> tuple[bool, tuple[int, ...] | None]:
        sig = self.signature()
        return (self._racy or sig != self._seen), sig

    def invalidate(self) -> None:
        self._racy = True

    def read_at(self, sig: tuple[int, ...] | None) -> None:
        """Record that the file was read after ``sig`` was taken."""
        self._seen = sig
        self._racy = sig is not None and time.time_ns() - sig[2] < _RACY_NS


def _parse_hashes(text: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CredentialFileError("not JSON") from exc
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                             for k, v in data.items()):
        raise CredentialFileError("not an object of kiosk ids to token hashes")
    return data


class CredentialStore:
    """The server's table of kiosk ids and token hashes (JSON file or in memory).

    File-backed, it follows the file: tokens issued or revoked by ``kiosk backend
    issue-credentials`` / ``revoke-credentials`` (another process) count at the next request.
    A missing file means no kiosk; a damaged one refuses every token (fails closed, logged).
    """

    def __init__(self, hashes: dict[str, str] | None = None, path: Path | None = None) -> None:
        self._hashes = dict(hashes or {})
        self._path = path
        self._watch = _Watch(path) if path is not None else None
        self._lock = threading.Lock()
        if hashes is not None and self._watch is not None:
            self._watch.read_at(self._watch.signature())

    @classmethod
    def load(cls, path: str | Path) -> CredentialStore:
        store = cls(None, Path(path))
        store._refresh()
        return store

    def _read(self) -> dict[str, str]:
        if self._path is None:
            return dict(self._hashes)  # an in-memory store has no file to read
        try:
            text = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except UnicodeDecodeError as exc:
            raise CredentialFileError("not UTF-8") from exc
        return _parse_hashes(text)

    def _refresh(self) -> None:
        """Re-read the file if it changed (under ``self._lock`` or before sharing)."""
        if self._watch is None:
            return
        changed, sig = self._watch.changed()
        if not changed:
            return
        try:
            self._hashes = self._read()
        except (CredentialFileError, OSError) as exc:
            log.error("credentials file %s unusable (%s): every kiosk token is refused",
                      self._path, exc)
            self._hashes = {}
        self._watch.read_at(sig)

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Serialise read-modify-write of the file between processes (and threads)."""
        with self._lock:
            if self._path is None:
                yield
                return
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path.with_name(self._path.name + ".lock"),
                         os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if self._watch is None:
                    raise RuntimeError("credential store without a file cannot be saved")
                sig = self._watch.signature()
                self._hashes = self._read()  # damaged: raises, nothing is overwritten
                self._watch.read_at(sig)
                yield
                write_private(self._path, json.dumps(self._hashes, indent=1, sort_keys=True))
                self._watch.invalidate()
            finally:
                os.close(fd)

    def issue(self, kiosk_id: str) -> KioskCredential:
        """A new token for ``kiosk_id`` (replacing any earlier one); saved if file-backed.
        :class:`CredentialFileError` if the file is damaged (it is then left alone)."""
        if not kiosk_id or "." in kiosk_id or len(kiosk_id) > 64:
            raise ValueError("kiosk id must be 1-64 characters without dots")
        secret = secrets.token_urlsafe(32)
        with self._file_lock():
            self._hashes[kiosk_id] = _hash(secret)
        return KioskCredential(kiosk_id=kiosk_id, token=f"{kiosk_id}.{secret}")

    def revoke(self, kiosk_id: str) -> bool:
        """Remove the token of ``kiosk_id``; False if it had none."""
        with self._file_lock():
            return self._hashes.pop(kiosk_id, None) is not None

    def check(self) -> None:
        """Raise :class:`CredentialFileError` (or OSError) if the file is unusable."""
        if self._path is not None:
            self._read()

    def kiosks(self) -> list[str]:
        with self._lock:
            self._refresh()
            return sorted(self._hashes)

    def verify(self, token: str) -> str | None:
        """The kiosk id a bearer token belongs to, or None."""
        kiosk_id, _, secret = token.partition(".")
        with self._lock:
            self._refresh()
            expected = self._hashes.get(kiosk_id)
        if not secret or expected is None:
            return None
        return kiosk_id if hmac.compare_digest(expected, _hash(secret)) else None


def load_credential(path: str | Path) -> KioskCredential:
    return KioskCredential.model_validate_json(Path(path).read_text(encoding="utf-8"))


class CredentialFile:
    """A kiosk's credentials file, followed while the kiosk runs: a newly installed token is
    used from the next request on. An unreadable replacement keeps the previous token (the
    platform refuses it if it was revoked, which the kiosk reports as ``unauthorized``)."""

    def __init__(self, path: str | Path) -> None:
        self._watch = _Watch(Path(path))
        self._lock = threading.Lock()
        sig = self._watch.signature()
        self._credential = load_credential(path)  # a missing or bad file at start raises
        self._watch.read_at(sig)

    @property
    def path(self) -> Path:
        return self._watch.path

    def current(self) -> KioskCredential:
        with self._lock:
            changed, sig = self._watch.changed()
            if changed:
                try:
                    self._credential = load_credential(self._watch.path)
                except (OSError, ValueError, ValidationError) as exc:
                    log.warning("credentials file %s unreadable (%s): keeping the previous "
                                "token", self._watch.path, type(exc).__name__)
                self._watch.read_at(sig)
            return self._credential
