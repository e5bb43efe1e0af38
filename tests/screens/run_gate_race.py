"""One subprocess of tests/screens/test_gate_race.py: the service gate changes between the
app reading its status and subscribing to it (the window in which a kiosk started on a busy
machine once stayed on the out-of-service screen with every device online).

``lost_out``: the kiosk is set out of service in that window; the screen must say so.
``lost_in``: the kiosk starts out of service and is put back in that window; the attract
screen must come. Either way the screen then follows one more change."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from kiosk.compose import build
from screens.testing import KioskDriver, sim_config
from tests.screens.parallel import recorded

W, H = 540, 960


def main() -> int:
    case, out_path, artifacts = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    out: dict[str, Any] = {"case": case}
    with tempfile.TemporaryDirectory(prefix="kiosk-gate-race-") as tmp, \
            recorded(out, out_path):
        var = Path(tmp) / "var"
        var.mkdir(parents=True)
        core = build(sim_config(var, W, H, extra={"ui": {"simulation_dock": False}}))
        gate = core.diagnostics.gate
        if case == "lost_in":
            gate.set_out_of_service("operator", "gate race test")

        def in_the_window(app: Any) -> None:
            out["read_at_init"] = app.gate_status.mode
            if case == "lost_out":
                gate.set_out_of_service("operator", "gate race test")
            else:
                gate.back_in_service("operator")
            out["gate_after"] = gate.status().mode

        first = "out_of_service" if case == "lost_out" else "attract"
        ui = KioskDriver(core=core, artifacts=artifacts, width=W, height=H,
                         on_built=in_the_window)
        try:
            ui.start(timeout=30, first_screen=first)
            out["first_screen"] = ui.screen
            ui.screenshot(artifacts / f"01-{ui.screen}.png")
            if case == "lost_out":
                gate.back_in_service("operator")
                ui.wait_for_screen("attract", 30)
            else:
                gate.set_out_of_service("operator", "gate race test")
                ui.run_until(lambda: ui.screen == "out_of_service", 30, "out of service")
            out["then_screen"] = ui.screen
            ui.screenshot(artifacts / f"02-{ui.screen}.png")
        finally:
            ui.stop()
            core.stop()
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
