"""What the agent must remember across restarts: high-water marks, what is applied, and the
last rejection and outcome it reports. One JSON file, replaced atomically."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.files import write_private
from kiosk.fleet.canonical import NotCanonical, canonical, strict_loads

log = logging.getLogger("kiosk.fleet")


@dataclass
class Mark:
    """The highest authenticated version seen for one scope, and that bundle's digest."""

    version: int
    digest: str


@dataclass
class FleetState:
    """Persisted agent state (``<fleet.state_dir>/state.json``)."""

    path: Path
    marks: dict[str, Mark] = field(default_factory=dict)
    last_rejection: dict[str, Any] | None = None
    last_outcome: dict[str, Any] | None = None

    @classmethod
    def load(cls, path: str | Path) -> FleetState:
        p = Path(path)
        try:
            data = strict_loads(p.read_bytes(), 1024 * 1024)
            marks = {str(k): Mark(int(v["version"]), str(v["digest"]))
                     for k, v in data.get("marks", {}).items()}
            return cls(p, marks, data.get("last_rejection"), data.get("last_outcome"))
        except FileNotFoundError:
            return cls(p)
        except (OSError, NotCanonical, AttributeError, KeyError, TypeError, ValueError) as exc:
            # the marks are lost: the slots still hold the versions in force (see the agent)
            log.error("fleet state %s unreadable (%s); rebuilt from the slots", p.name, exc)
            return cls(p)

    def mark(self, scope: str) -> Mark:
        return self.marks.get(scope, Mark(0, ""))

    def raise_mark(self, scope: str, version: int, digest: str) -> None:
        if version > self.mark(scope).version:
            self.marks[scope] = Mark(version, digest)

    def save(self) -> None:
        write_private(self.path, canonical({
            "marks": {k: {"version": m.version, "digest": m.digest}
                      for k, m in self.marks.items()},
            "last_rejection": self.last_rejection, "last_outcome": self.last_outcome}))
