"""The demo world's people: ``config/demo/citizens.yaml`` (shipped in the wheel through the
``hardware/sim/demo`` link). The ID-card simulator's ``demo`` deck and the camera simulator's
faces come from it; the reference platform seeds its records from the same file."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

PEOPLE_FILE = Path(__file__).resolve().parent / "demo" / "citizens.yaml"


@functools.cache
def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path.name}: not a mapping")
    return data


def citizens(path: Path = PEOPLE_FILE) -> list[dict[str, Any]]:
    """The demo citizens (key, name, id_number, face, card fields ...)."""
    return [dict(c) for c in _load(path).get("citizens", [])]


def enterprises(path: Path = PEOPLE_FILE) -> list[dict[str, Any]]:
    """The demo enterprises (key, name, uscc, representative ...)."""
    return [dict(e) for e in _load(path).get("enterprises", [])]
