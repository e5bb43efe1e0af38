"""Release slots beside the running one: ``<root>/releases/<version>`` with ``current`` and
``previous`` links, switched atomically (a new link renamed over the old, the folder fsync'd).

During an update's health check ``rollback-to`` names the release to go back to; it is made
(durably) before ``current`` moves and removed only when the update is committed, so a power
loss in the health window leaves it, and ``kiosk-update recover`` (kiosk-update-recover.service,
before the kiosk starts) rolls back. A release folder is used only once it holds
``.complete``: a half-installed one is never switched to and is swept next time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kiosk.appliance.release import LOCK, MANIFEST, Release, ReleaseError, unpack, version_key
from kiosk.files import write_private
from kiosk.fleet.canonical import canonical

COMPLETE = ".complete"
STATE = "update-state.json"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ReleaseStore:
    """The release folders and links under ``root`` (e.g. ``/opt/kiosk``)."""

    def __init__(self, root: Path, python: str | None = None) -> None:
        self.root = root
        self.dir = root / "releases"
        self.python = python or sys.executable

    # -- links ----------------------------------------------------------------------------
    def _link(self, name: str) -> str | None:
        try:
            target = os.readlink(self.root / name)
        except OSError:
            return None
        return Path(target).name

    @property
    def current(self) -> str | None:
        return self._link("current")

    @property
    def previous(self) -> str | None:
        return self._link("previous")

    @property
    def rollback_to(self) -> str | None:
        return self._link("rollback-to")

    def set_link(self, name: str, version: str | None) -> None:
        path = self.root / name
        if version is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        else:
            tmp = self.root / f".{name}.tmp"
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(f"releases/{version}")
            os.replace(tmp, path)
        _fsync_dir(self.root)

    # -- state ----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        try:
            data = json.loads((self.root / STATE).read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def record(self, **changes: Any) -> None:
        data = self.state()
        failed = dict(data.get("failed", {}))
        failed.update(changes.pop("failed", {}))
        data.update(changes, failed=failed)
        write_private(self.root / STATE, canonical(data))

    def installed(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        found = [p.name for p in self.dir.iterdir() if (p / COMPLETE).exists()]
        return sorted(found, key=lambda v: version_key(v) if _is_version(v) else (0,))

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One kiosk-update at a time (a second one fails at once instead of waiting)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".update.lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ReleaseError("busy", "another kiosk-update is running") from None
            yield

    # -- installing -----------------------------------------------------------------------
    def install(self, tar: Path, release: Release) -> Path:
        """Unpack, verify and install ``release`` into ``releases/<version>`` (offline)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        target = self.dir / release.version
        if (target / COMPLETE).exists():
            return target
        if target.exists():
            shutil.rmtree(target)  # a half-installed attempt
        incoming = self.dir / f".incoming-{release.version}"
        shutil.rmtree(incoming, ignore_errors=True)
        incoming.mkdir(mode=0o755)
        try:
            unpack(tar, release, incoming)
            self._run([self.python, "-m", "venv", str(target)], "create the environment")
            self._run([str(target / "bin" / "python"), "-m", "pip", "install", "-q",
                       "--disable-pip-version-check", "--no-index", "--no-deps",
                       "--require-hashes", "--find-links", str(incoming / "wheels"),
                       "-r", str(incoming / LOCK)], "install the wheels")
            entry = target / "bin" / release.entry
            if not os.access(entry, os.X_OK):
                raise ReleaseError("bad_release", f"the release has no {release.entry} "
                                                  "program")
            (target / MANIFEST).write_bytes(canonical(release.document))
            fd = os.open(target / COMPLETE, os.O_WRONLY | os.O_CREAT, 0o644)
            os.fsync(fd)
            os.close(fd)
            _fsync_dir(target)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        finally:
            shutil.rmtree(incoming, ignore_errors=True)
        return target

    def _run(self, cmd: list[str], what: str) -> None:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ReleaseError("install_failed", f"cannot {what}: "
                                                 f"{(done.stderr or done.stdout)[-500:]}")

    # -- switching ------------------------------------------------------------------------
    def begin_trial(self, version: str) -> str | None:
        """``rollback-to`` := the current release, then ``current`` := ``version``."""
        old = self.current
        if old is not None:
            self.set_link("rollback-to", old)
        self.set_link("current", version)
        self.record(trial={"from": old, "to": version, "at": int(time.time())})
        return old

    def commit(self) -> None:
        old = self.rollback_to
        self.set_link("rollback-to", None)
        if old is not None:
            self.set_link("previous", old)
        self.record(trial=None, committed=self.current, committed_at=int(time.time()))
        self.prune()

    def rollback(self, reason: str) -> str | None:
        """Back to ``rollback-to``; the failed release is recorded and removed."""
        failed, old = self.current, self.rollback_to
        if old is None:
            return None
        self.set_link("current", old)
        self.set_link("rollback-to", None)
        self.record(trial=None, failed={failed: reason} if failed else {})
        self.prune()
        return old

    def swap(self) -> str:
        """Manual rollback: ``current`` and ``previous`` change places."""
        cur, prev = self.current, self.previous
        if prev is None or not (self.dir / prev / COMPLETE).exists():
            raise ReleaseError("no_previous", "there is no previous release to go back to")
        self.set_link("current", prev)
        self.set_link("previous", cur)
        self.record(manual_rollback={"from": cur, "to": prev, "at": int(time.time())})
        return prev

    def prune(self) -> None:
        """Remove every release that is not current, previous or the rollback target."""
        keep = {self.current, self.previous, self.rollback_to}
        if not self.dir.is_dir():
            return
        for path in self.dir.iterdir():
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)


def _is_version(text: str) -> bool:
    try:
        version_key(text)
    except ReleaseError:
        return False
    return True
