"""Private files and folders: what holds personal data or secrets is created owner-only.

Created with the mode from the start (``os.open`` with ``O_CREAT`` and the mode, ``mkdir``
with the mode) rather than ``chmod`` after the fact, so there is no moment when another
user could open it. SQLite creates its ``-wal`` and ``-shm`` files with the permissions of
the database file, so a database pre-created with :func:`private_file` stays private.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` as a folder only its owner can enter (created, or tightened if it exists)."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    if p.stat().st_mode & 0o777 != PRIVATE_DIR:
        os.chmod(p, PRIVATE_DIR)
    return p


def private_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a file only its owner can read (created empty if missing; an existing
    file is tightened to 0600). Its parent folder is created if missing (not tightened:
    it may be the kiosk's shared state folder)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE)
    try:
        if os.fstat(fd).st_mode & 0o777 != PRIVATE_FILE:
            os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
    return p


def write_private(path: str | os.PathLike[str], data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically and durably: a temp file (0600 from the start)
    in the same folder, fsync'd, renamed over ``path``, the folder fsync'd. A reader sees the
    old or the new content, never a mix; a crash leaves one of them."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        try:
            os.fchmod(fd, PRIVATE_FILE)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dfd = os.open(p.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return p
