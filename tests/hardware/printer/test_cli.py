"""``kiosk diag printer status|test-page --json`` against the real cupsd."""

from __future__ import annotations

import json

from click.testing import CliRunner

from kiosk.cli import main
from tests.hardware.printer.conftest import Rig


def _run(args: list[str], rig: Rig, tmp_path_state: str) -> tuple[int, dict[str, object]]:
    env = {"KIOSK__PRINTER__STATE_DIR": tmp_path_state}
    result = CliRunner().invoke(main, ["diag", "printer", *args, "--printer", rig.queue,
                                       "--server", rig.cupsd.server, "--json"], env=env)
    return result.exit_code, json.loads(result.output.strip().splitlines()[-1])


def test_status_and_test_page(rig: Rig) -> None:
    code, status = _run(["status"], rig, str(rig.state_dir))
    assert code == 0
    assert status["queue"] == rig.queue and status["state"] == "idle"
    assert status["reachable"] is True and status["jobs_pending"] == 0
    assert status["reasons"] == []
    code, page = _run(["test-page", "--timeout", "10"], rig, str(rig.state_dir))
    assert code == 0 and page["state"] == "completed" and isinstance(page["job_id"], int)
    assert set(page) == {"job_id", "state", "elapsed_ms"}
    assert rig.emulator.wait_for_jobs(1, 5)
    rig.emulator.set_fault("offline")
    code, page = _run(["test-page", "--timeout", "1"], rig, str(rig.state_dir))
    assert code == 1 and page["state"] == "timeout" and float(page["elapsed_ms"]) < 4000  # type: ignore[arg-type]
    code, status = _run(["status"], rig, str(rig.state_dir))
    assert code == 1 and status["reasons"] == ["offline-report"]
