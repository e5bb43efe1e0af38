"""Config slots: the fleet layers in force, switched atomically and rolled back on failure.

``<fleet.state_dir>/slots/`` holds ``slot-<n>.json`` files (the fleet, group and kiosk
overlays with their versions, and a hash over them) and ``current.json``, the pointer:
``{"committed": NAME, "previous": NAME, "trial": NAME}``. Every file is replaced atomically
(temp file, fsync, rename, folder fsync: :func:`kiosk.files.write_private`), a slot before
the pointer that names it. So a kill mid-write leaves the old pointer and the old slot; a
slot whose hash does not match is never used; a pointer left with a ``trial`` (the kiosk
stopped during a health window) is rolled back at the next start.

A change the kiosk takes by restarting (device ports, backend: :attr:`ApplyResult.restart
<kiosk.fleet.agent.ApplyResult>`) is *handed over*: ``resume.json`` names the trial, the rest
of its health window and the problems seen before it. The next start takes the marker (it is
deleted, durably, before that process runs the trial), boots on the trial slot and resumes the
window; if that process dies during the window, the next start finds a trial and no marker,
and rolls it back like any interrupted trial.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.config.loader import CONFIG_DIR, ConfigError, load_config
from kiosk.config.schema import KioskConfig
from kiosk.files import private_dir, write_private
from kiosk.fleet.bundle import LAYERS
from kiosk.fleet.canonical import NotCanonical, canonical, digest, strict_loads

log = logging.getLogger("kiosk.fleet")

MAX_SLOT_BYTES = 4 * 1024 * 1024
_SLOT = re.compile(r"slot-(\d{1,12})\.json")


@dataclass(frozen=True)
class Layer:
    """One fleet layer in force: the bundle it came from and its overlay."""

    scope: str
    version: int
    digest: str
    overlay: dict[str, Any]
    applied_at: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"scope": self.scope, "version": self.version, "digest": self.digest,
                "overlay": self.overlay, "applied_at": self.applied_at}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Layer:
        return cls(str(data["scope"]), int(data["version"]), str(data["digest"]),
                   dict(data["overlay"]), float(data.get("applied_at", 0.0)))


Layers = dict[str, Layer]


def overlays(layers: Mapping[str, Layer]) -> list[dict[str, Any]]:
    """The overlays of ``layers`` in merge order: fleet, group, kiosk."""
    return [layers[name].overlay for name in LAYERS if name in layers]


@dataclass(frozen=True)
class Resume:
    """A trial handed over to the next process: its slot, the rest of its health window and
    the problems that were there before it (the window's baseline)."""

    trial: str
    remaining_s: float
    baseline: tuple[str, ...] = ()


class SlotStore:
    """The slot files and the pointer under ``state_dir/slots``."""

    def __init__(self, state_dir: str | Path) -> None:
        self.dir = Path(state_dir) / "slots"
        self.pointer_path = self.dir / "current.json"
        self.resume_path = self.dir / "resume.json"

    # -- reading ------------------------------------------------------------------------
    def pointer(self) -> dict[str, str | None]:
        try:
            data = strict_loads(self.pointer_path.read_bytes(), 4096)
        except FileNotFoundError:
            return {"committed": None, "previous": None, "trial": None}
        except (OSError, NotCanonical) as exc:
            log.error("fleet slot pointer unreadable (%s); using no fleet layers", exc)
            return {"committed": None, "previous": None, "trial": None}
        out: dict[str, str | None] = {}
        for key in ("committed", "previous", "trial"):
            value = data.get(key) if isinstance(data, dict) else None
            out[key] = value if isinstance(value, str) and _SLOT.fullmatch(value) else None
        return out

    def read(self, name: str | None) -> Layers | None:
        """The layers of slot ``name``; None when missing, torn or altered."""
        if name is None:
            return None
        try:
            data = strict_loads((self.dir / name).read_bytes(), MAX_SLOT_BYTES)
            if not isinstance(data, dict) or data.get("hash") != digest(data.get("layers")):
                raise NotCanonical("hash mismatch")
            return {k: Layer.from_json(v) for k, v in data["layers"].items() if k in LAYERS}
        except FileNotFoundError:
            log.error("fleet slot %s is missing", name)
        except (OSError, NotCanonical, KeyError, TypeError, ValueError) as exc:
            log.error("fleet slot %s is not usable (%s)", name, exc)
        return None

    def committed(self) -> Layers:
        """The committed layers (the previous slot if the committed one is unusable)."""
        ptr = self.pointer()
        for name in (ptr["committed"], ptr["previous"]):
            layers = self.read(name)
            if layers is not None:
                return layers
        return {}

    # -- writing ------------------------------------------------------------------------
    def _write_pointer(self, ptr: Mapping[str, str | None]) -> None:
        write_private(self.pointer_path, canonical(dict(ptr)))

    def write(self, layers: Mapping[str, Layer]) -> str:
        """A new slot holding ``layers`` (durable before this returns); its name."""
        private_dir(self.dir)
        taken = [int(m.group(1)) for p in self.dir.iterdir() if (m := _SLOT.fullmatch(p.name))]
        name = f"slot-{max(taken, default=0) + 1}.json"
        body = {kind: layer.as_json() for kind, layer in layers.items()}
        write_private(self.dir / name, canonical({"layers": body, "hash": digest(body),
                                                  "written_at": time.time()}))
        return name

    def begin_trial(self, name: str) -> None:
        ptr = self.pointer()
        self._write_pointer({**ptr, "trial": name})

    def commit(self) -> None:
        ptr = self.pointer()
        if ptr["trial"] is None:
            return
        self._write_pointer({"committed": ptr["trial"], "previous": ptr["committed"],
                             "trial": None})
        self._prune()

    def rollback(self) -> str | None:
        """Drop the trial slot (and a hand-over of it); its name (None when there was none)."""
        self._drop_resume()
        ptr = self.pointer()
        trial = ptr["trial"]
        if trial is None:
            return None
        self._write_pointer({**ptr, "trial": None})
        self._prune()
        return trial

    # -- a trial handed over to the next process ------------------------------------------
    def hand_over(self, remaining_s: float, baseline: list[str] | tuple[str, ...]) -> None:
        """Mark the trial in the pointer to be resumed by the next start (durable on return)."""
        trial = self.pointer()["trial"]
        if trial is None:
            raise ValueError("no trial to hand over")
        write_private(self.resume_path, canonical({
            "trial": trial, "remaining_s": round(max(0.0, remaining_s), 3),
            "baseline": sorted(str(b)[:300] for b in baseline)[:100]}))

    def take_resume(self) -> Resume | None:
        """The hand-over marker, deleted (durably) before it is returned: a process that
        dies while running the resumed trial leaves none, so the next start rolls back."""
        try:
            data = strict_loads(self.resume_path.read_bytes(), 64 * 1024)
        except FileNotFoundError:
            return None
        except (OSError, NotCanonical) as exc:
            log.error("fleet hand-over marker unreadable (%s); the trial is rolled back", exc)
            data = None
        self._drop_resume()
        trial = data.get("trial") if isinstance(data, dict) else None
        remaining = data.get("remaining_s") if isinstance(data, dict) else None
        baseline = data.get("baseline") if isinstance(data, dict) else None
        if not (isinstance(trial, str) and _SLOT.fullmatch(trial)
                and isinstance(remaining, int | float) and isinstance(baseline, list)):
            if data is not None:
                log.error("fleet hand-over marker not usable; the trial is rolled back")
            return None
        return Resume(trial, float(remaining), tuple(str(b) for b in baseline))

    def _drop_resume(self) -> None:
        try:
            os.unlink(self.resume_path)
        except FileNotFoundError:
            return
        fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _prune(self) -> None:
        keep = {n for n in self.pointer().values() if n}
        for p in self.dir.iterdir():
            stale = _SLOT.fullmatch(p.name) and p.name not in keep
            if stale or (p.name.startswith(".") and p.name.endswith(".tmp")):
                try:
                    os.unlink(p)
                except OSError:
                    pass


@dataclass(frozen=True)
class ConfigSource:
    """How this kiosk's configuration is built, so the agent can rebuild it with new fleet
    layers: the site file, profile and environment of :func:`kiosk.config.load_config`."""

    path: str | Path | None = None
    profile: str | None = None
    environ: Mapping[str, str] | None = None
    config_dir: Path = CONFIG_DIR

    def load(self, layers: Mapping[str, Layer] | None = None) -> KioskConfig:
        return load_config(self.path, profile=self.profile, environ=self.environ,
                           config_dir=self.config_dir, overlays=overlays(layers or {}))

    def boot(self) -> Boot:
        """The configuration to start with: the committed slot over the base layers.

        A trial handed over by the previous process (it restarted to take the change) is
        resumed: the kiosk starts on the trial slot and ``Boot.resumed`` says so. Any other
        trial slot (a stop or crash during a health window) is rolled back first; a committed
        slot that no longer merges into a valid configuration (the site file changed under
        it) is set aside: the kiosk starts on its base configuration and reports why.
        """
        base = self.load()
        store = SlotStore(base.fleet.state_dir)
        notes: list[str] = []
        resume = store.take_resume()
        if resume is not None:
            resumed = self._resume(store, resume)
            if resumed is not None:
                return resumed
        interrupted = store.rollback()
        if interrupted:
            notes.append(f"rolled_back: the kiosk stopped during the health window of "
                         f"{interrupted}")
        layers = store.committed()
        try:
            return Boot(self.load(layers), layers, store, notes)
        except ConfigError as exc:
            log.error("fleet layers not used at start: %s", exc.problems[:1])
            notes.append(f"invalid_config: the committed fleet layers do not merge "
                         f"({exc.problems[0] if exc.problems else 'invalid'})")
            return Boot(base, {}, store, notes)

    def _resume(self, store: SlotStore, resume: Resume) -> Boot | None:
        if store.pointer()["trial"] != resume.trial:
            return None
        layers = store.read(resume.trial)
        if layers is None:
            return None
        committed = store.committed()
        try:
            config, previous = self.load(layers), self.load(committed)
        except ConfigError as exc:
            log.error("fleet trial not resumed: %s", exc.problems[:1])
            return None
        log.info("fleet: resuming the health window of %s (%.1f s left)", resume.trial,
                 resume.remaining_s)
        return Boot(config, layers, store, [], Resumed(resume, committed, previous))


@dataclass(frozen=True)
class Resumed:
    """A trial resumed after the restart that took it: the marker, and the committed layers
    and configuration to roll back to."""

    resume: Resume
    previous_layers: Layers
    previous_config: KioskConfig


@dataclass
class Boot:
    """What :meth:`ConfigSource.boot` found: the config, the layers in it, notes to report,
    and the trial to resume when the previous process handed one over."""

    config: KioskConfig
    layers: Layers
    store: SlotStore
    notes: list[str] = field(default_factory=list)
    resumed: Resumed | None = None
