"""The watchdog end to end: a real process under a supervisor that enforces Type=notify and
WatchdogSec like systemd (settings read from deploy/systemd/kiosk.service)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

from tests.appliance.conftest import PINGER
from tests.appliance.supervisor import Supervisor

Start = Callable[..., Supervisor]


def active(pid_not: int = 0) -> Callable[[Supervisor], bool]:
    return lambda s: s.active_state == "active" and s.main_pid not in (0, pid_not)


def pinged(after: int) -> Callable[[Supervisor], bool]:
    return lambda s: s.pings > after


def test_ready_then_pings_from_the_main_loop(supervise: Start) -> None:
    sup = supervise(PINGER, watchdog_s=1.0)
    sup.wait_for(active(), 20, "readiness")
    assert sup.status_text == "session=idle, worker=online"
    sup.wait_for(pinged(3), 10, "watchdog pings")
    assert sup.n_restarts == 0


def test_a_hung_main_loop_is_killed_and_restarted(supervise: Start) -> None:
    sup = supervise(PINGER, watchdog_s=1.0, timeout_abort_s=5.0)
    sup.wait_for(active(), 20, "readiness")
    first = sup.main_pid
    os.kill(first, signal.SIGUSR1)  # the main loop blocks for good
    sup.wait_for(active(pid_not=first), 30, "a restarted service")
    assert ("signal", first, "SIGABRT") in sup.events
    assert sup.n_restarts == 1
    pings = sup.pings
    sup.wait_for(pinged(pings + 2), 10, "pings from the new process")


def test_a_dead_worker_stops_the_pings(supervise: Start) -> None:
    sup = supervise(PINGER, watchdog_s=1.0, timeout_abort_s=5.0)
    sup.wait_for(active(), 20, "readiness")
    first = sup.main_pid
    sup.wait_for(pinged(1), 10, "pings")
    os.kill(first, signal.SIGUSR2)  # the worker thread ends; the main loop keeps turning
    sup.wait_for(lambda s: s.status_text.startswith("watchdog held"), 10, "held status")
    assert "worker" in sup.status_text
    sup.wait_for(active(pid_not=first), 30, "a restarted service")
    assert ("signal", first, "SIGABRT") in sup.events and sup.n_restarts == 1


def test_no_readiness_within_the_start_timeout_fails_the_start(supervise: Start) -> None:
    never_ready = [sys.executable, "-c", "import time; time.sleep(60)"]
    sup = supervise(never_ready, timeout_start_s=1.0, timeout_stop_s=5.0,
                    start_limit_burst=2, restart_s=0.1)
    sup.wait_for(lambda s: s.active_state == "failed", 30, "the start limit")
    assert sup.result == "start-limit-hit" and sup.n_restarts == 1


def test_notify_access_main_ignores_other_processes(supervise: Start) -> None:
    child_says_ready = [sys.executable, "-c",
                        "import subprocess, sys, time\n"
                        "subprocess.run([sys.executable, '-c', 'from kiosk.appliance.notify "
                        "import Notifier; Notifier().ready()'])\n"
                        "time.sleep(60)"]
    sup = supervise(child_says_ready, timeout_start_s=3.0, timeout_stop_s=5.0, restart="no")
    sup.wait_for(lambda s: any(e[0] == "ignored" for e in s.events), 20, "ignored READY")
    assert sup.active_state == "activating"
    sup.wait_for(lambda s: s.active_state == "failed", 20, "start timeout")
