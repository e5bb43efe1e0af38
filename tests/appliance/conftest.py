"""Fixtures of the appliance tests: a supervisor that runs real processes like systemd."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.appliance.supervisor import ServiceSettings, Supervisor

REPO = Path(__file__).resolve().parents[2]
KIOSK_UNIT = REPO / "deploy" / "systemd" / "kiosk.service"


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Callable[..., Supervisor]]:
    """Start a service under a :class:`Supervisor` (settings from the kiosk unit by default)."""
    started: list[Supervisor] = []

    def run(exec_start: list[str], unit: Path = KIOSK_UNIT, **overrides: Any) -> Supervisor:
        env = {"PYTHONPATH": str(REPO), **overrides.pop("environment", {})}
        settings = ServiceSettings.from_unit(unit, exec_start=exec_start, environment=env,
                                             **overrides)
        workdir = tmp_path / f"svc{len(started)}"
        workdir.mkdir()
        sup = Supervisor(settings, workdir)
        started.append(sup)
        return sup.start()

    yield run
    for sup in started:
        sup.close()


PINGER = [sys.executable, "-m", "tests.appliance.programs.pinger"]
