"""Fixtures shared by the whole suite. Peers (pty simulators, cupsd, Xvfb, PostgreSQL) are
started by the fixtures of each area's own conftest; a peer that cannot start fails its tests."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Any]:
    """Build a KioskConfig (simulation profile) whose state lives under ``tmp_path``."""
    from kiosk.config import load_config

    def build(profile: str = "simulation", **overrides: str) -> Any:
        environ = {"KIOSK__VAR_DIR": str(tmp_path / "var")}  # all state lives under it
        environ.update({f"KIOSK__{k.upper()}": v for k, v in overrides.items()})
        return load_config(profile=profile, environ=environ)

    return build
