"""The real `kiosk run --no-ui` under the test supervisor (Type=notify, WatchdogSec, Restart=
on-failure, RestartForceExitStatus=75, settings from deploy/systemd/kiosk.service): READY once
the core is up, watchdog pings while it lives, a hung main loop killed and restarted; and a
fleet change that needs new devices taken by a restart (exit 75) that resumes the health
window, rolled back when the restarted process dies inside it."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.config import load_config
from kiosk.diag.report import config_hash
from kiosk.fleet import keys
from kiosk.fleet.bundle import sign
from kiosk.fleet.mqtt import BrokerSettings
from kiosk.fleet.ops import FleetView
from screens.testing import sim_config
from screens.xvfb import Xvfb
from tests.appliance.supervisor import Supervisor
from tests.harness.peers import Mosquitto

Start = Callable[..., Supervisor]
KIOSK = [sys.executable, "-m", "kiosk.cli", "run", "--no-ui", "--profile", "simulation"]
BOOT_S = 120.0  # a kiosk boots its simulators and a private cupsd on a loaded 2-core machine


def active(pid_not: int = 0) -> Callable[[Supervisor], bool]:
    return lambda s: s.active_state == "active" and s.main_pid not in (0, pid_not)


def pinged(after: int) -> Callable[[Supervisor], bool]:
    return lambda s: s.pings > after


def test_ready_pings_and_a_hung_main_loop_is_killed_and_restarted(
        supervise: Start, tmp_path: Path) -> None:
    env = {"KIOSK__VAR_DIR": str(tmp_path / "var"), "HOME": str(tmp_path),
           "KIOSK_TEST_HANG_SIGNAL": "USR1"}
    sup = supervise(KIOSK, watchdog_s=6.0, timeout_abort_s=5.0, restart_s=0.5,
                    environment=env)
    sup.wait_for(active(), BOOT_S, "READY=1 from the kiosk")
    first = sup.main_pid
    assert sup.status_text.startswith("session=idle, idcard=online, qr=online")
    assert "backend=ok" in sup.status_text
    sup.wait_for(pinged(3), 30, "watchdog pings from the main loop")
    assert sup.n_restarts == 0 and sup.active_state == "active"

    os.kill(first, signal.SIGUSR1)  # the test-only hook: the main loop blocks for good
    sup.wait_for(lambda s: ("signal", first, "SIGABRT") in s.events, 30, "the watchdog")
    sup.wait_for(active(pid_not=first), BOOT_S, "the restarted kiosk")
    assert sup.n_restarts == 1
    second = sup.main_pid
    pings = sup.pings
    sup.wait_for(pinged(pings + 2), 30, "pings from the new process")

    sup.command("stop")
    sup.wait_for(lambda s: s.active_state == "inactive", 60, "a clean stop")
    assert ("stopping", second) in sup.events  # STOPPING=1 on the way out
    assert any(e[:3] == ("exit", second, 0) for e in sup.events), sup.events[-6:]


def test_the_ui_is_ready_on_its_first_frame_and_a_hung_ui_thread_is_restarted(
        supervise: Start, tmp_path: Path) -> None:
    sim_config(tmp_path, 540, 960)  # tmp_path/site.yaml: a small window, state in tmp_path
    kiosk = [sys.executable, "-m", "kiosk.cli", "run", "--config", str(tmp_path / "site.yaml"),
             "--profile", "simulation"]
    with Xvfb(540, 960) as x:
        env = {"DISPLAY": str(x.display), "HOME": str(tmp_path), "KIVY_NO_ARGS": "1",
               "KIVY_HOME": str(tmp_path / "kivy"), "KIOSK_TEST_HANG_SIGNAL": "USR1"}
        sup = supervise(kiosk, watchdog_s=6.0, timeout_abort_s=5.0, restart_s=0.5,
                        environment=env)
        sup.wait_for(active(), BOOT_S, "READY=1 from the touchscreen")
        first = sup.main_pid
        assert sup.status_text.startswith("session=idle, idcard=online")
        sup.wait_for(pinged(3), 30, "watchdog pings from the Kivy clock")
        os.kill(first, signal.SIGUSR1)  # the UI thread blocks for good
        sup.wait_for(lambda s: ("signal", first, "SIGABRT") in s.events, 30, "the watchdog")
        sup.wait_for(active(pid_not=first), BOOT_S, "the restarted touchscreen")
        pings = sup.pings
        sup.wait_for(pinged(pings + 2), 30, "pings from the new UI")
        second = sup.main_pid
        sup.command("stop")
        sup.wait_for(lambda s: s.active_state == "inactive", 60, "a clean stop")
    assert ("stopping", second) in sup.events
    assert any(e[:3] == ("exit", second, 0) for e in sup.events), sup.events[-6:]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    folder = tmp_path / "broker"
    folder.mkdir()
    b = Mosquitto(folder).start()
    yield b
    b.stop()


@pytest.fixture
def view(broker: Mosquitto) -> Iterator[FleetView]:
    v = FleetView(BrokerSettings.from_url(broker.url), answers=True).open()
    yield v
    v.close()


def reported(view: FleetView) -> dict[str, Any]:
    return view.reported.get("k1") or {}


def kiosk_layer(view: FleetView) -> int | None:
    layer = (reported(view).get("applied") or {}).get("kiosk") or {}
    version = layer.get("version")
    return version if isinstance(version, int) else None


def exited(pid: int, code: int) -> Callable[[Supervisor], bool]:
    return lambda s: any(e[:3] == ("exit", pid, code) for e in s.events)


def test_a_change_needing_a_restart_resumes_its_window_and_rolls_back_after_a_crash(
        supervise: Start, tmp_path: Path, broker: Mosquitto, view: FleetView) -> None:
    keys.keygen(tmp_path / "keys", 86400)
    signer = keys.load_signing_key(tmp_path / "keys" / "signing.key")
    env = {"KIOSK__VAR_DIR": str(tmp_path / "var"), "HOME": str(tmp_path),
           "KIOSK__KIOSK__ID": "k1", "KIOSK__FLEET__BROKER_URL": broker.url,
           "KIOSK__FLEET__TRUST_ROOT": str(tmp_path / "keys" / "root.pub"),
           "KIOSK__FLEET__HEARTBEAT_S": "0.5", "KIOSK__FLEET__HEALTH_WINDOW_S": "20",
           "KIOSK__FLEET__HEALTH_PROBE_S": "0.2", "KIOSK__FLEET__IDLE_POLL_S": "0.1"}
    sup = supervise(KIOSK, watchdog_s=10.0, restart_s=0.5, environment=env)
    sup.wait_for(active(), BOOT_S, "READY=1")
    assert view.wait_for(lambda v: v.status.get("k1") == "online", BOOT_S)
    first = sup.main_pid

    # attract.notice_rotate_s is not a live key: the kiosk exits 75 between sessions, the
    # service manager starts it again, and the new process runs the rest of the window
    view.push(sign({"attract": {"notice_rotate_s": 9}}, signer, 1, 3600, "kiosk:k1"))
    sup.wait_for(exited(first, 75), BOOT_S, "exit 75 to take the change")
    sup.wait_for(active(pid_not=first), BOOT_S, "the restarted kiosk")
    second = sup.main_pid
    assert view.wait_for(lambda v: kiosk_layer(v) == 1, BOOT_S), reported(view)
    assert reported(view)["last_outcome"]["result"] == "applied"
    nine = config_hash(load_config(profile="simulation", environ=env,
                                   overlays=[{"attract": {"notice_rotate_s": 9}}]))
    assert view.wait_for(lambda v: (reported(v).get("health") or {})
                         .get("config_hash") == nine, 30)
    assert sup.main_pid == second and sup.n_restarts == 1

    # the next one: the restarted process dies inside the resumed window -> rolled back
    view.push(sign({"attract": {"notice_rotate_s": 10}}, signer, 2, 3600, "kiosk:k1"))
    sup.wait_for(exited(second, 75), BOOT_S, "exit 75 for version 2")
    sup.wait_for(active(pid_not=second), BOOT_S, "the kiosk running version 2's trial")
    third = sup.main_pid

    def resumed(v: FleetView) -> bool:
        trial = reported(v).get("trial") or {}
        return "ends_in_s" in trial and trial.get("versions") == {"kiosk:k1": 2}

    assert view.wait_for(resumed, BOOT_S), reported(view)
    os.kill(third, signal.SIGKILL)  # a crash inside the window
    sup.wait_for(active(pid_not=third), BOOT_S, "the kiosk after the crash")

    def rolled_back(v: FleetView) -> bool:
        outcome = reported(v).get("last_outcome") or {}
        return outcome.get("result") == "rolled_back" and v.status.get("k1") == "online"

    assert view.wait_for(rolled_back, BOOT_S), reported(view)
    assert "stopped during the health window" in reported(view)["last_outcome"]["reason"]
    assert kiosk_layer(view) == 1
    assert view.wait_for(lambda v: (reported(v).get("health") or {})
                         .get("config_hash") == nine, 30), json.dumps(reported(view))[:2000]
    assert reported(view)["trial"] is None
