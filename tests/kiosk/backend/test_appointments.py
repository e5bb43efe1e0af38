"""Issue 11 item 13: appointments within opening hours, a per-holder limit, unique slots
(since issue 17: one per window of the hall, a slot takes as many as it has windows)."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest

from kiosk.backend.contract import Appointment, Refused
from kiosk.backend.platform.service import CHINA, AppointmentPolicy, PlatformService
from tests.kiosk.backend.conftest import NOW
from tests.kiosk.backend.helpers import card

K = "kiosk-test"
MATTER = "birth-registration"  # needs originals: a counter appointment


def in_hours(at: dt.datetime, policy: AppointmentPolicy) -> bool:
    local = at.astimezone(CHINA)
    if local.weekday() not in policy.working_days or local.second or local.microsecond:
        return False
    end = (dt.datetime.combine(local.date(), local.time()) + policy.slot).time()
    return any(start <= local.time() and end <= stop for start, stop in policy.opening_hours)


def test_default_policy_limits_open_appointments(fresh_platform: PlatformService) -> None:
    policy = fresh_platform.appointments
    assert policy.max_open_per_holder == 3
    ref = fresh_platform.check_identity(card("huang"), kiosk_id=K).ref
    booked = [fresh_platform.book_appointment(MATTER, ref, kiosk_id=K) for _ in range(3)]
    with pytest.raises(Refused) as err:
        fresh_platform.book_appointment(MATTER, ref, kiosk_id=K)
    assert err.value.code == "appointment_limit"
    # another holder is not limited by huang's appointments
    other = fresh_platform.check_identity(card("chen"), kiosk_id=K).ref
    fresh_platform.book_appointment(MATTER, other, kiosk_id=K)
    # once the appointments are past they are no longer open
    later = max(a.at for a in booked) + dt.timedelta(hours=1)
    fresh_platform.clock.now = later  # type: ignore[attr-defined]
    ref = fresh_platform.check_identity(card("huang"), kiosk_id=K).ref
    assert fresh_platform.book_appointment(MATTER, ref, kiosk_id=K).at > booked[-1].at


def test_seventy_bookings_stay_within_opening_hours(fresh_platform: PlatformService) -> None:
    fresh_platform.appointments = AppointmentPolicy(max_open_per_holder=100)
    policy = fresh_platform.appointments
    ref = fresh_platform.check_identity(card("huang"), kiosk_id=K).ref
    booked = [fresh_platform.book_appointment(MATTER, ref, kiosk_id=K) for _ in range(70)]
    assert all(in_hours(a.at, policy) for a in booked), [
        a.at.astimezone(CHINA).isoformat() for a in booked if not in_hours(a.at, policy)]
    assert len({a.at for a in booked}) == 70 and len({a.appointment_no for a in booked}) == 70
    local = [a.at.astimezone(CHINA) for a in booked]
    assert local == sorted(local)
    today = NOW.astimezone(CHINA).date()  # a Monday: the first slot is Tuesday 09:00
    assert local[0] == dt.datetime.combine(today + dt.timedelta(days=1), dt.time(9), CHINA)
    per_day = 12 + 14  # 09:00-12:00 and 14:00-17:30 in 15-minute slots
    assert local[per_day - 1].time() == dt.time(17, 15)
    assert local[per_day] == dt.datetime.combine(today + dt.timedelta(days=2), dt.time(9),
                                                 CHINA)
    assert local[12].time() == dt.time(14, 0)  # the lunch break is skipped
    assert local[-1] == dt.datetime.combine(today + dt.timedelta(days=3), dt.time(15, 15),
                                            CHINA)  # 70 = 26 + 26 + 12 mornings + 6
    assert not [a for a in booked if not a.appointment_no.startswith("YY")]


def test_a_full_day_moves_to_the_next_working_day(fresh_platform: PlatformService) -> None:
    fresh_platform.appointments = AppointmentPolicy(
        max_open_per_holder=10, opening_hours=((dt.time(9), dt.time(10)),), slot_minutes=30)
    thursday = dt.datetime(2026, 6, 4, 8, 0, tzinfo=dt.UTC)  # 16:00 in China
    fresh_platform.clock.now = thursday  # type: ignore[attr-defined]
    ref = fresh_platform.check_identity(card("huang"), kiosk_id=K).ref
    days = [fresh_platform.book_appointment(MATTER, ref, kiosk_id=K).at.astimezone(CHINA)
            for _ in range(3)]
    assert [d.strftime("%a %H:%M") for d in days] == ["Fri 09:00", "Fri 09:30", "Mon 09:00"]


def test_concurrent_bookings_never_share_a_slot(fresh_platform: PlatformService) -> None:
    fresh_platform.appointments = AppointmentPolicy(max_open_per_holder=100)
    people = [key for key in ("huang", "chen", "he") for _ in range(3)]
    refs = [(key, fresh_platform.check_identity(card(key), kiosk_id=K).ref) for key in people]
    barrier = threading.Barrier(len(refs))
    results: list[tuple[str, Appointment]] = []
    errors: list[BaseException] = []

    def book(key: str, ref: str) -> None:
        barrier.wait(10)
        try:
            results.append((key, fresh_platform.book_appointment(MATTER, ref, kiosk_id=K)))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=book, args=r) for r in refs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, [f"{type(e).__name__}: {getattr(e, 'code', e)}" for e in errors]
    assert len(results) == len(refs)
    # the database kept the windows apart: a slot takes as many as the first hall has
    # windows for the matter (2), and no holder is booked twice at one time
    assert len({(a.counter, a.at) for _k, a in results}) == len(refs)
    assert max(Counter(a.at for _k, a in results).values()) <= 2
    assert len({(key, a.at) for key, a in results}) == len(refs)
    first = dt.datetime.combine(NOW.astimezone(CHINA).date() + dt.timedelta(days=1),
                                dt.time(9), CHINA)
    assert min(a.at for _k, a in results) == first


def test_bad_policy_is_refused() -> None:
    with pytest.raises(ValueError):
        AppointmentPolicy(max_open_per_holder=0)
    with pytest.raises(ValueError):
        AppointmentPolicy(opening_hours=((dt.time(12), dt.time(9)),))
    with pytest.raises(ValueError):
        AppointmentPolicy(slot_minutes=0)
