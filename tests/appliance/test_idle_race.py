"""The restart "at an idle moment" without a race: the kiosk is held (no new journey) before
idleness is read, so a citizen who starts between the check and the restart is never cut
off. On a real simulated kiosk; the nightly restart through the real Runner, the update hold
through the real hold file and a real notify socket."""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kiosk.appliance.hold import HoldFile, KioskHold
from kiosk.appliance.notify import Notifier
from kiosk.appliance.service import ServiceLink, parse_status
from kiosk.session.states import State
from tests.appliance.supervisor import NotifyListener

SH = ZoneInfo("Asia/Shanghai")


class WallClock:
    """Aware wall time that the test sets."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Kiosk:
    core: Any
    var_dir: Path


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Kiosk]:
    from kiosk import compose
    from kiosk.config import load_config

    var_dir = tmp_path / "var"
    cfg = load_config(profile="simulation", environ={
        "KIOSK__VAR_DIR": str(var_dir), "KIOSK__APPLIANCE__NIGHTLY_RESTART": "03:00"})
    core = compose.build(cfg)
    try:
        yield Kiosk(core, var_dir)
    finally:
        core.stop()


def _slow_check(machine: Any, citizen: list[threading.Thread], checked: threading.Event,
                window: threading.Event) -> None:
    """The citizen's start passes its refusal check, then gives the runner its chance to
    act before the transition completes (at most 2 s: a fixed runner waits for the lock)."""
    inner = machine.refusal

    def refusal() -> str | None:
        reason = inner()
        if reason is None and threading.current_thread() in citizen:
            checked.set()
            window.wait(2.0)
        return reason

    machine.refusal = refusal


def test_a_citizen_starting_during_the_nightly_restart_check_is_not_cut_off(
        kiosk: Kiosk) -> None:
    from kiosk.run import Runner

    core, machine = kiosk.core, kiosk.core.session
    clock = WallClock(datetime(2025, 6, 2, 2, 59, tzinfo=SH))
    stop = threading.Event()
    runner = Runner(core, ServiceLink(Notifier({})), stop, clock=clock)
    clock.now = datetime(2025, 6, 3, 3, 0, 30, tzinfo=SH)  # the restart is due
    citizen: list[threading.Thread] = []
    checked, window = threading.Event(), threading.Event()
    _slow_check(machine, citizen, checked, window)
    started: list[bool] = []
    citizen.append(threading.Thread(target=lambda: started.append(
        core.journey.start_session())))
    citizen[0].start()
    assert checked.wait(10), "the citizen's start did not reach its check"
    runner.tick()  # the nightly restart checks idleness now
    window.set()
    citizen[0].join(10)
    assert started == [True] and machine.state is not State.ATTRACT
    # the citizen got in: the kiosk must not restart under them
    assert runner.restart is None and not stop.is_set()
    # no further journey while the restart waits; once this one ends, it restarts
    core.journey.back()
    assert machine.state is State.ATTRACT
    assert not core.journey.start_session()
    runner.tick()
    assert runner.restart == "nightly" and stop.is_set()


def drain(listener: NotifyListener) -> list[dict[str, str]]:
    out = []
    while select.select([listener], [], [], 0)[0]:
        out.append(listener.receive()[1])
    return out


def test_the_update_hold_waits_for_the_session_refuses_new_ones_and_lets_go(
        kiosk: Kiosk, tmp_path: Path) -> None:
    from kiosk.run import Runner

    core, machine = kiosk.core, kiosk.core.session
    listener = NotifyListener(tmp_path / "notify.sock")
    link = ServiceLink(Notifier({"NOTIFY_SOCKET": listener.env_value}))
    runner = Runner(core, link, threading.Event())
    runner.ready()
    file = HoldFile(kiosk.var_dir)
    assert core.journey.start_session()  # a citizen is being served
    file.request(pid=999_999, until=time.time() + 60)  # another process: not us
    runner.tick()
    assert runner.hold.held_for is None
    file.request(pid=runner.hold.pid, until=time.time() + 60)
    runner.tick()
    sent = [parse_status(m["STATUS"]) for m in drain(listener) if "STATUS" in m]
    assert sent[-1]["session"] == "busy"  # held, but the citizen is still served
    assert machine.state is State.HOME
    core.journey.back()
    assert not core.journey.start_session()  # held: the next citizen waits
    runner.tick()
    sent = [parse_status(m["STATUS"]) for m in drain(listener) if "STATUS" in m]
    assert sent[-1]["session"] == "held"
    file.clear()  # kiosk-update gave up
    runner.tick()
    sent = [parse_status(m["STATUS"]) for m in drain(listener) if "STATUS" in m]
    assert sent[-1]["session"] == "idle"
    assert core.journey.start_session()
    core.journey.back()
    file.request(pid=runner.hold.pid, until=time.time() - 1)  # a dead kiosk-update's
    runner.tick()
    assert runner.hold.held_for is None and core.journey.start_session()
    listener.close()


def test_the_hold_file_is_readable_by_the_kiosk_and_ignores_garbage(tmp_path: Path) -> None:
    file = HoldFile(tmp_path)
    req = file.request(pid=42, until=1e10)
    assert file.read() == req and (file.path.stat().st_mode & 0o777) == 0o644
    file.path.write_text("{not json")
    assert file.read() is None
    file.clear()
    file.clear()
    assert file.read() is None


def test_a_hold_without_a_refusal_hook_still_answers(tmp_path: Path) -> None:
    from kiosk.session.machine import SessionMachine

    machine = SessionMachine()
    hold = KioskHold(machine, HoldFile(tmp_path), pid=7)
    HoldFile(tmp_path).request(pid=7, until=time.time() + 30)
    assert hold.turn() == "held"
