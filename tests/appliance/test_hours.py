"""Opening hours and the nightly restart on a fake clock (aware datetimes passed in)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from kiosk.appliance.config import ApplianceConfig
from kiosk.appliance.hours import HoursError, OpeningHours, Span, next_restart, restart_due
from kiosk.config.loader import ConfigError, load_config

SH = ZoneInfo("Asia/Shanghai")
HOURS = {"mon-fri": "08:30-12:00, 13:00-17:30", "sat": "09:00-12:00"}


def at(y: int, mo: int, d: int, h: int, mi: int = 0, tz: ZoneInfo = SH) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz)


@pytest.fixture
def hours() -> OpeningHours:
    # 2025-06-02 is a Monday
    return OpeningHours.parse(HOURS, closed_on=[date(2025, 6, 4)])


def test_open_and_closed_within_a_day(hours: OpeningHours) -> None:
    assert not hours.is_open(at(2025, 6, 2, 8, 29))
    assert hours.is_open(at(2025, 6, 2, 8, 30))
    assert not hours.is_open(at(2025, 6, 2, 12, 0))  # lunch break
    assert hours.is_open(at(2025, 6, 2, 17, 29))
    assert not hours.is_open(at(2025, 6, 2, 17, 30))


def test_next_change_over_lunch_evening_holiday_and_weekend(hours: OpeningHours) -> None:
    assert hours.next_change(at(2025, 6, 2, 7)) == at(2025, 6, 2, 8, 30)
    assert hours.next_change(at(2025, 6, 2, 10)) == at(2025, 6, 2, 12)
    assert hours.next_change(at(2025, 6, 2, 12, 30)) == at(2025, 6, 2, 13)
    # Tuesday evening: Wednesday the 4th is a holiday, so Thursday morning
    assert hours.next_change(at(2025, 6, 3, 18)) == at(2025, 6, 5, 8, 30)
    assert not hours.is_open(at(2025, 6, 4, 10))
    # Saturday noon -> Monday morning (Sunday not named: closed)
    assert hours.next_change(at(2025, 6, 7, 12)) == at(2025, 6, 9, 8, 30)
    state = hours.state(at(2025, 6, 7, 10))
    assert state.open and state.today == (Span(540, 720),) and str(state.today[0]) == \
        "09:00-12:00"


def test_a_span_to_midnight_joins_the_next_day() -> None:
    late = OpeningHours.parse({"fri": "20:00-24:00", "sat": "00:00-02:00"})
    assert late.is_open(at(2025, 6, 6, 23, 59))
    assert late.next_change(at(2025, 6, 6, 21)) == at(2025, 6, 7, 2)


def test_always_open_without_hours_and_the_time_zone_is_honoured() -> None:
    assert OpeningHours.parse({}).is_open(at(2025, 6, 8, 3))
    assert OpeningHours.parse({}).next_change(at(2025, 6, 8, 3)) is None
    hours = OpeningHours.parse({"daily": "09:00-17:00"})
    utc = ZoneInfo("UTC")
    assert hours.is_open(at(2025, 6, 2, 1, tz=utc))   # 09:00 in Shanghai
    assert not hours.is_open(at(2025, 6, 2, 9, tz=utc))  # 17:00 in Shanghai


def test_daylight_saving_day_keeps_wall_clock_hours() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    hours = OpeningHours.parse({"daily": "02:00-04:00"}, timezone="Europe/Berlin")
    # 2025-03-30: 02:00-03:00 does not exist; opening is the first real moment, 03:00 CEST
    change = hours.next_change(at(2025, 3, 30, 1, tz=berlin))
    assert change == datetime(2025, 3, 30, 3, 0, tzinfo=berlin)


@pytest.mark.parametrize("bad, words", [
    ({"mon": "8:30-17:00"}, "HH:MM-HH:MM"),
    ({"mon": "17:00-08:00"}, "must end after it starts"),
    ({"mon": "08:00-12:00, 11:00-13:00"}, "overlap"),
    ({"fri-mon": "08:00-12:00"}, "runs forward"),
    ({"funday": "08:00-12:00"}, "mon..sun"),
    ({"mon-fri": "08:00-12:00", "fri": "09:00-10:00"}, "already given"),
])
def test_malformed_hours_are_named(bad: dict[str, str], words: str) -> None:
    with pytest.raises(HoursError, match=words):
        OpeningHours.parse(bad)


def test_nightly_restart_is_due_once_its_time_passed_since_the_start() -> None:
    three = time(3, 30)
    assert next_restart(three, at(2025, 6, 2, 10)) == at(2025, 6, 3, 3, 30)
    assert next_restart(three, at(2025, 6, 2, 1)) == at(2025, 6, 2, 3, 30)
    started = at(2025, 6, 2, 10)
    assert not restart_due(three, started, at(2025, 6, 3, 3, 29))
    assert restart_due(three, started, at(2025, 6, 3, 3, 30))
    assert not restart_due(None, started, at(2025, 6, 9, 3, 30))


def test_config_section_validates_and_names_the_key() -> None:
    cfg = ApplianceConfig(hours=HOURS, nightly_restart="03:30")
    assert cfg.restart_time() == time(3, 30)
    assert cfg.opening_hours().is_open(at(2025, 6, 2, 9))
    with pytest.raises(ConfigError) as err:
        load_config(environ={"KIOSK__APPLIANCE__NIGHTLY_RESTART": "25:00"})
    assert "appliance.nightly_restart" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_config(environ={"KIOSK__APPLIANCE__TIMEZONE": "Mars/Olympus"})
    assert "appliance.timezone" in str(err.value)
