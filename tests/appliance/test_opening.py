"""Opening hours on a real simulated kiosk with a clock the test sets (no sleeps): closed
refuses journeys and keeps nothing of a card or a code shown to it; a session under way at
closing time finishes within the grace, then ends like a timeout; opening again by itself;
hours changed live by a configuration change; the week and the next opening for the screen."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kiosk.appliance.hours import Span
from kiosk.appliance.opening import HoursGate, WeekRow, attach_hours
from kiosk.session.states import State
from screens.testing import demo_card, demo_citizen

SH = ZoneInfo("Asia/Shanghai")
HOURS = {"mon-fri": "08:30-12:00, 13:00-17:30", "sat": "09:00-12:00"}
GRACE_S = 600


def at(d: int, h: int, mi: int = 0, s: int = 0) -> datetime:
    return datetime(2025, 6, d, h, mi, s, tzinfo=SH)  # 2025-06-02 is a Monday


class WallClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Rig:
    core: Any
    gate: HoursGate
    clock: WallClock
    var_dir: Path
    notices: list[tuple[str, str]]

    def move(self, when: datetime) -> Any:
        self.clock.now = when
        return self.gate.evaluate()

    def audit(self) -> list[dict[str, Any]]:
        lines = (self.var_dir / "audit.jsonl").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    from kiosk import compose
    from kiosk.config import load_config

    var_dir = tmp_path / "var"
    cfg = load_config(profile="simulation", environ={
        "KIOSK__VAR_DIR": str(var_dir), "KIOSK__APPLIANCE__HOURS": json.dumps(HOURS),
        "KIOSK__APPLIANCE__CLOSED_ON": json.dumps(["2025-06-04"]),
        "KIOSK__APPLIANCE__CLOSING_GRACE_S": str(GRACE_S),
        "KIOSK__APPLIANCE__BACKLIGHT": "none"})
    core = compose.build(cfg)
    clock = WallClock(at(2, 10))
    notices: list[tuple[str, str]] = []
    core.journey.subscribe(lambda n: notices.append((n.kind, n.key)))
    gate = attach_hours(core, clock=clock, poll_s=3600)  # the test turns it
    try:
        yield Rig(core, gate, clock, var_dir, notices)
    finally:
        gate.close()
        core.stop()


def test_closed_refuses_journeys_and_keeps_nothing_of_a_card_or_a_code(rig: Rig) -> None:
    journey, machine = rig.core.journey, rig.core.session
    status = rig.move(at(2, 18))
    assert status.closed and status.next_open == at(3, 8, 30)
    assert status.days_until_open() == 1
    assert not journey.start_session() and machine.state is State.ATTRACT
    # a card read: no identity check is even asked for (nothing reaches the platform)
    assert journey.handle_card(demo_card("chen")) is None
    sim = rig.core.simulation
    code = sim.issue_code(str(demo_citizen("chen")["id_number"]))
    assert journey.handle_code(code) is None
    assert machine.state is State.ATTRACT and machine.data.holder is None
    assert not [n for n in rig.notices if n[0] == "busy"], rig.notices
    # opening time: the same single-use code still works (it was never spent)
    status = rig.move(at(3, 8, 30))
    assert status.open and status.next_open is None
    future = journey.handle_code(code)
    assert future is not None
    future.result(30)
    assert machine.state is not State.ATTRACT and machine.data.holder is not None


def test_a_session_under_way_at_closing_finishes_within_the_grace(rig: Rig) -> None:
    journey, machine = rig.core.journey, rig.core.session
    rig.move(at(2, 17, 20))
    assert journey.start_session() and machine.state is State.HOME
    session = machine.session_no
    status = rig.move(at(2, 17, 30))
    assert status.closed and status.grace_session == session
    assert status.grace_until == at(2, 17, 30) + timedelta(seconds=GRACE_S)
    rig.move(at(2, 17, 39, 59))
    assert machine.state is State.HOME  # still within the grace
    status = rig.move(at(2, 17, 40))
    assert machine.state is State.ATTRACT  # ended like an inactivity timeout ends one
    assert status.grace_session is None
    assert not journey.start_session()
    assert any(r["event"] == "appliance.closed_session_ended" for r in rig.audit())


def test_a_session_that_ends_in_the_grace_leaves_the_closed_screen_behind(rig: Rig) -> None:
    journey, machine = rig.core.journey, rig.core.session
    rig.move(at(2, 11, 59))
    assert journey.start_session()
    status = rig.move(at(2, 12, 0))
    assert status.grace_session == machine.session_no
    journey.back()
    status = rig.move(at(2, 12, 1))
    assert machine.state is State.ATTRACT and status.closed and status.grace_session is None
    assert status.next_open == at(2, 13) and status.days_until_open() == 0
    assert not journey.start_session()
    assert rig.move(at(2, 13)).open and journey.start_session()  # the lunch break is over


def test_hours_changed_live_by_a_configuration_change(rig: Rig) -> None:
    from kiosk.fleet.changes import ConfigChange, changed_keys

    core = rig.core
    assert rig.move(at(7, 14)).closed  # Saturday afternoon
    seen: list[bool] = []
    rig.gate.subscribe(lambda s: seen.append(s.open))
    old = core.cfg
    new = old.model_copy(update={"appliance": old.appliance.model_copy(
        update={"hours": {**HOURS, "sat": "09:00-17:00"}})})
    keys = tuple(changed_keys(old, new))
    assert keys == ("appliance.hours.sat",)
    result = core.apply_config(ConfigChange(new, old, keys, idle=False))
    assert not result.restart  # taken live
    status = rig.gate.evaluate()
    assert status.open and seen == [True] and core.journey.start_session()


def test_the_week_and_the_holidays_for_the_screen(rig: Rig) -> None:
    status = rig.move(at(3, 18))  # Tuesday evening; Wednesday the 4th is a holiday
    assert status.week == (WeekRow(0, 4, (Span(510, 720), Span(780, 1050))),
                           WeekRow(5, 5, (Span(540, 720),)), WeekRow(6, 6, ()))
    assert status.closed_dates == (date(2025, 6, 4),)
    assert status.next_open == at(5, 8, 30) and status.days_until_open() == 2
    assert status.today == (Span(510, 720), Span(780, 1050))
    assert rig.move(at(4, 10)).today == ()


def test_always_open_by_default(tmp_path: Path) -> None:
    from kiosk import compose
    from kiosk.config import load_config

    cfg = load_config(profile="simulation", environ={"KIOSK__VAR_DIR": str(tmp_path)})
    core = compose.build(cfg)
    try:
        gate = attach_hours(core, clock=WallClock(at(8, 3)), poll_s=3600)
        try:
            status = gate.evaluate()
            assert status.open and status.week == () and status.next_open is None
            assert core.journey.start_session()
        finally:
            gate.close()
    finally:
        core.stop()
