"""Config slots: the fleet layers in force, switched atomically and rolled back on failure.

``<fleet.state_dir>/slots/`` holds ``slot-<n>.json`` files (the fleet, group and kiosk
overlays with their versions, and a hash over them) and ``current.json``, the pointer:
``{"committed": NAME, "previous": NAME, "trial": NAME}``. Every file is replaced atomically
(temp file, fsync, rename, folder fsync: :func:`kiosk.files.write_private`), a slot before
the pointer that names it. So a kill mid-write leaves the old pointer and the old slot; a
slot whose hash does not match is never used; a pointer left with a ``trial`` (the kiosk
stopped during a health window) is rolled back at the next start.
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


class SlotStore:
    """The slot files and the pointer under ``state_dir/slots``."""

    def __init__(self, state_dir: str | Path) -> None:
        self.dir = Path(state_dir) / "slots"
        self.pointer_path = self.dir / "current.json"

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
        """Drop the trial slot; its name (None when there was none)."""
        ptr = self.pointer()
        trial = ptr["trial"]
        if trial is None:
            return None
        self._write_pointer({**ptr, "trial": None})
        self._prune()
        return trial

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

        A trial slot left by a stop during a health window is rolled back first; a committed
        slot that no longer merges into a valid configuration (the site file changed under
        it) is set aside: the kiosk starts on its base configuration and reports why.
        """
        base = self.load()
        store = SlotStore(base.fleet.state_dir)
        notes: list[str] = []
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


@dataclass
class Boot:
    """What :meth:`ConfigSource.boot` found: the config, the layers in it, notes to report."""

    config: KioskConfig
    layers: Layers
    store: SlotStore
    notes: list[str] = field(default_factory=list)
