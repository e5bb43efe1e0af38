"""The screens follow the service gate even when it changes while the app starts (between
reading the gate's status and subscribing to it): a kiosk set out of service then shows the
out-of-service screen, one put back in service shows the attract screen. A real Kivy window
under Xvfb, one subprocess per case (tests/screens/run_gate_race.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.screens.parallel import assert_ok, run_parallel

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screens" / "gate-race"


@pytest.fixture(scope="module")
def runs() -> dict[str, dict[str, Any]]:
    return run_parallel("tests.screens.run_gate_race",
                        {"lost_out": ("lost_out",), "lost_in": ("lost_in",)}, ARTIFACTS)


def test_set_out_of_service_while_starting_shows_out_of_service(runs: dict[str, Any]) -> None:
    run = runs["lost_out"]
    assert_ok(run)
    assert (run["read_at_init"], run["gate_after"]) == ("in_service", "out_of_service")
    assert run["first_screen"] == "out_of_service"
    assert run["then_screen"] == "attract"


def test_back_in_service_while_starting_shows_attract(runs: dict[str, Any]) -> None:
    run = runs["lost_in"]
    assert_ok(run)
    assert (run["read_at_init"], run["gate_after"]) == ("out_of_service", "in_service")
    assert run["first_screen"] == "attract"
    assert run["then_screen"] == "out_of_service"
