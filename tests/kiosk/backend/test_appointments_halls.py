"""Issue 17, appointments on the platform (SQLite and PostgreSQL): halls near the kiosk, free
slots per hall and matter (capacity, working days, never a past one), booking a chosen slot
(holder-bound, kiosk-scoped, idempotent), one's own appointments, cancelling."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.backend.contract import (
    AppointmentState,
    BackendError,
    InvalidRequest,
    NotFound,
    Refused,
    SlotChoice,
)
from kiosk.backend.platform.booking import SHOWN_DAYS
from kiosk.backend.platform.halls import HALLS_FILE, HallsError, load_halls
from kiosk.backend.platform.models import AppointmentRow
from kiosk.backend.platform.seed import seed_halls
from kiosk.backend.platform.service import CHINA, PlatformService
from kiosk.cli import main
from tests.kiosk.backend.conftest import NOW
from tests.kiosk.backend.helpers import card

A, B = "kiosk-a", "kiosk-b"
BIRTH = "birth-registration"  # originals checked at a counter
CENTRE, GUICHENG, DALI, CHANCHENG = "nh-admin-centre", "nh-guicheng", "nh-dali", "cc-admin-centre"
TUESDAY_9 = dt.datetime(2026, 6, 2, 9, 0, tzinfo=CHINA)  # NOW is Monday 10:00 in Guangdong


def error_of(call: Callable[[], Any]) -> BackendError:
    with pytest.raises(BackendError) as info:
        call()
    return info.value


def choice(at: dt.datetime, hall: str = CENTRE, key: str | None = None) -> SlotChoice:
    return SlotChoice(hall_id=hall, at=at, idempotency_key=key or uuid.uuid4().hex)


def ref(platform: PlatformService, key: str, kiosk: str = A) -> str:
    return platform.check_identity(card(key), kiosk_id=kiosk).ref


def rows(platform: PlatformService) -> int:
    with Session(platform.engine) as s:
        return s.scalar(select(func.count()).select_from(AppointmentRow)) or 0


def test_halls_of_the_kiosks_district_come_first(fresh_platform: PlatformService) -> None:
    nanhai = fresh_platform.list_halls(BIRTH, "南海区")
    assert [h.id for h in nanhai] == [CENTRE, GUICHENG, DALI, CHANCHENG]
    chancheng = fresh_platform.list_halls(BIRTH, "禅城区")
    assert [h.id for h in chancheng] == [CHANCHENG, CENTRE, GUICHENG, DALI]
    centre = nanhai[0]
    assert centre.hotline and centre.address["en"] and "9:00" in centre.hours["zh_CN"]
    assert set(centre.name) == {"zh_CN", "zh_HK", "en"}
    # only halls taking the matter; a matter of no hall has none
    assert [h.id for h in fresh_platform.list_halls("sole-trader-register", "南海区")] == [
        CENTRE, DALI]
    assert fresh_platform.list_halls("sb-record-print") == []
    assert error_of(lambda: fresh_platform.list_halls("no-such-matter")).code == \
        "matter_not_found"
    assert len(fresh_platform.list_halls()) == 4


def test_slots_are_working_hours_with_capacity_and_never_past(
        fresh_platform: PlatformService) -> None:
    slots = fresh_platform.appointment_slots(CENTRE, BIRTH)
    assert slots[0].at == TUESDAY_9  # from the next day on: nothing today, nothing past
    assert all(s.at > NOW for s in slots)
    local = [s.at.astimezone(CHINA) for s in slots]
    assert {t.weekday() for t in local} == set(range(5))  # Monday to Friday
    assert {s.capacity for s in slots} == {2} and all(s.free == 2 for s in slots)
    assert local[-1].date() < NOW.astimezone(CHINA).date() + dt.timedelta(days=SHOWN_DAYS + 1)
    assert len([t for t in local if t.date() == TUESDAY_9.date()]) == 26  # 15-minute slots
    assert not [t for t in local if dt.time(12) <= t.time() < dt.time(14)]  # lunch
    # a hall's own hours: Guicheng 30 minutes until 17:00; Dali opens on Saturdays
    guicheng = [s.at.astimezone(CHINA) for s in fresh_platform.appointment_slots(GUICHENG,
                                                                                 BIRTH)]
    assert guicheng[1] - guicheng[0] == dt.timedelta(minutes=30)
    assert max(t.time() for t in guicheng) == dt.time(16, 30)
    dali = {s.at.astimezone(CHINA).weekday() for s in fresh_platform.appointment_slots(DALI,
                                                                                     BIRTH)}
    assert 5 in dali and 6 not in dali
    # public holidays are closed
    holiday = TUESDAY_9.date()
    fresh_platform.appointments = dataclasses.replace(fresh_platform.appointments,
                                                      closed_dates=frozenset({holiday}))
    assert all(s.at.date() != holiday for s in fresh_platform.appointment_slots(CENTRE, BIRTH))
    # the clock moves on: yesterday's slots are gone
    fresh_platform.clock.now = NOW + dt.timedelta(days=1)  # type: ignore[attr-defined]
    assert min(s.at for s in fresh_platform.appointment_slots(CENTRE, BIRTH)) > \
        NOW + dt.timedelta(days=1)


def test_a_slot_takes_as_many_as_it_has_windows(fresh_platform: PlatformService) -> None:
    huang, chen, he = (ref(fresh_platform, k) for k in ("huang", "chen", "he"))
    first = fresh_platform.book_appointment(BIRTH, huang, choice(TUESDAY_9), kiosk_id=A)
    second = fresh_platform.book_appointment(BIRTH, chen, choice(TUESDAY_9), kiosk_id=A)
    assert (first.at, second.at) == (TUESDAY_9, TUESDAY_9)
    assert {first.window, second.window} == {1, 2} and first.counter != second.counter
    assert first.hall_id == CENTRE and first.state is AppointmentState.BOOKED
    assert first.counter.startswith("南海区行政服务中心")
    assert first.appointment_no.startswith("YY20260602") and len(first.appointment_no) == 18
    assert first.check_code and len(first.check_code) == 8
    assert first.slip_code == f"YYBL:{first.appointment_no}:{first.check_code}"
    full = error_of(lambda: fresh_platform.book_appointment(BIRTH, he, choice(TUESDAY_9),
                                                            kiosk_id=A))
    assert isinstance(full, Refused) and full.code == "slot_full"
    slot = next(s for s in fresh_platform.appointment_slots(CENTRE, BIRTH)
                if s.at == TUESDAY_9)
    assert (slot.capacity, slot.free) == (2, 0)
    # another hall, or the next slot, is free
    other = fresh_platform.book_appointment(BIRTH, he, choice(TUESDAY_9, GUICHENG),
                                            kiosk_id=A)
    assert other.hall_id == GUICHENG and other.window == 1


def test_refused_choices(fresh_platform: PlatformService) -> None:
    huang = ref(fresh_platform, "huang")

    def code(at: dt.datetime, hall: str = CENTRE, matter: str = BIRTH) -> str:
        return error_of(lambda: fresh_platform.book_appointment(
            matter, huang, choice(at, hall), kiosk_id=A)).code

    sunday = dt.datetime(2026, 6, 7, 9, 0, tzinfo=CHINA)
    assert code(TUESDAY_9 + dt.timedelta(minutes=5)) == "slot_invalid"  # not a slot start
    assert code(TUESDAY_9.replace(hour=12, minute=30)) == "slot_invalid"  # lunch
    assert code(sunday) == "slot_invalid"
    assert code(TUESDAY_9 + dt.timedelta(days=120)) == "slot_invalid"  # past the horizon
    assert code(NOW.astimezone(CHINA).replace(hour=14)) == "slot_invalid"  # later today
    assert code(NOW - dt.timedelta(days=1)) == "slot_past"
    assert code(TUESDAY_9, hall="no-such-hall") == "hall_not_found"
    assert code(TUESDAY_9, hall=GUICHENG, matter="sole-trader-register") == \
        "matter_not_at_hall"
    assert code(TUESDAY_9, matter="sb-record-print") == "no_counter_needed"
    naive = error_of(lambda: fresh_platform.book_appointment(
        BIRTH, huang, choice(TUESDAY_9.replace(tzinfo=None)), kiosk_id=A))
    assert isinstance(naive, InvalidRequest) and naive.code == "slot_invalid"
    for edge in (dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(-dt.timedelta(hours=14))),
                 dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=14)))):
        assert code(edge) == "slot_invalid"  # the calendar's ends: refused, not a crash
    fresh_platform.book_appointment(BIRTH, huang, choice(TUESDAY_9), kiosk_id=A)
    assert code(TUESDAY_9, hall=GUICHENG) == "appointment_same_time"  # one place at a time
    later = [TUESDAY_9 + dt.timedelta(minutes=15 * i) for i in (1, 2)]
    for at in later:
        fresh_platform.book_appointment(BIRTH, huang, choice(at), kiosk_id=A)
    assert code(TUESDAY_9 + dt.timedelta(hours=1)) == "appointment_limit"  # 3 open at most
    assert rows(fresh_platform) == 3


def test_a_retried_booking_returns_what_it_booked(fresh_platform: PlatformService) -> None:
    huang = ref(fresh_platform, "huang")
    key = uuid.uuid4().hex
    first = fresh_platform.book_appointment(BIRTH, huang, choice(TUESDAY_9, key=key),
                                            kiosk_id=A)
    again = fresh_platform.book_appointment(BIRTH, huang, choice(TUESDAY_9, key=key),
                                            kiosk_id=A)
    assert again == first and rows(fresh_platform) == 1
    # the same key for another slot is a mistake, not a second booking
    other = error_of(lambda: fresh_platform.book_appointment(
        BIRTH, huang, choice(TUESDAY_9 + dt.timedelta(minutes=15), key=key), kiosk_id=A))
    assert other.code == "idempotency_conflict"
    # cancelled, a late retry does not book it again
    fresh_platform.cancel_appointment(first.appointment_no, huang, kiosk_id=A)
    late = fresh_platform.book_appointment(BIRTH, huang, choice(TUESDAY_9, key=key),
                                           kiosk_id=A)
    assert late.appointment_no == first.appointment_no
    assert late.state is AppointmentState.CANCELLED and rows(fresh_platform) == 1
    assert error_of(lambda: fresh_platform.book_appointment(
        BIRTH, huang, choice(TUESDAY_9, key="bad key!"), kiosk_id=A)).code == \
        "bad_idempotency_key"


def test_my_appointments_are_mine_and_open_ones_only(fresh_platform: PlatformService) -> None:
    huang, chen = ref(fresh_platform, "huang"), ref(fresh_platform, "chen")
    a = fresh_platform.book_appointment(BIRTH, huang, choice(TUESDAY_9), kiosk_id=A)
    b = fresh_platform.book_appointment(BIRTH, huang, choice(TUESDAY_9 + dt.timedelta(days=1)),
                                        kiosk_id=A)
    fresh_platform.book_appointment(BIRTH, chen, choice(TUESDAY_9), kiosk_id=A)
    assert [x.appointment_no for x in fresh_platform.list_appointments(huang, kiosk_id=A)] == \
        [a.appointment_no, b.appointment_no]
    # the holder's, not the session's: the next visit (a new session) lists them too
    fresh_platform.end_session(huang, kiosk_id=A)
    later = ref(fresh_platform, "huang")
    assert len(fresh_platform.list_appointments(later, kiosk_id=A)) == 2
    fresh_platform.cancel_appointment(a.appointment_no, later, kiosk_id=A)
    assert [x.appointment_no for x in fresh_platform.list_appointments(later, kiosk_id=A)] == \
        [b.appointment_no]
    # once its time has passed an appointment is no longer open
    fresh_platform.clock.now = b.at + dt.timedelta(hours=1)  # type: ignore[attr-defined]
    assert fresh_platform.list_appointments(ref(fresh_platform, "huang"), kiosk_id=A) == []


def test_cancelling_gives_the_place_back_and_is_idempotent(
        fresh_platform: PlatformService) -> None:
    huang, chen, he = (ref(fresh_platform, k) for k in ("huang", "chen", "he"))
    mine = fresh_platform.book_appointment(BIRTH, huang, choice(TUESDAY_9), kiosk_id=A)
    fresh_platform.book_appointment(BIRTH, chen, choice(TUESDAY_9), kiosk_id=A)
    done = fresh_platform.cancel_appointment(mine.appointment_no, huang, kiosk_id=A)
    assert done.state is AppointmentState.CANCELLED
    assert fresh_platform.cancel_appointment(mine.appointment_no, huang, kiosk_id=A) == done
    # its window is free again: he takes it
    took = fresh_platform.book_appointment(BIRTH, he, choice(TUESDAY_9), kiosk_id=A)
    assert took.window == mine.window
    # not chen's to cancel; another kiosk gets the unknown-reference answer
    stolen = error_of(lambda: fresh_platform.cancel_appointment(took.appointment_no, chen,
                                                                kiosk_id=A))
    unknown = error_of(lambda: fresh_platform.cancel_appointment("YY2026060212345678", chen,
                                                                 kiosk_id=A))
    assert isinstance(stolen, NotFound) and stolen.code == "appointment_not_found"
    assert (stolen.code, stolen.message) == (unknown.code, unknown.message)
    assert error_of(lambda: fresh_platform.cancel_appointment(
        took.appointment_no, he, kiosk_id=B)).code == "holder_ref_unknown"
    assert error_of(lambda: fresh_platform.list_appointments(he, kiosk_id=B)).code == \
        "holder_ref_unknown"
    assert error_of(lambda: fresh_platform.book_appointment(
        BIRTH, he, choice(TUESDAY_9 + dt.timedelta(hours=1)), kiosk_id=B)).code == \
        "holder_ref_unknown"
    assert error_of(lambda: fresh_platform.cancel_appointment("../../x", he,
                                                              kiosk_id=A)).code == \
        "appointment_not_found"
    # an ended session reaches nothing
    fresh_platform.end_session(he, kiosk_id=A)
    assert error_of(lambda: fresh_platform.cancel_appointment(
        took.appointment_no, he, kiosk_id=A)).code == "session_expired"
    # a past appointment cannot be cancelled
    fresh_platform.clock.now = TUESDAY_9 + dt.timedelta(minutes=1)  # type: ignore[attr-defined]
    late = error_of(lambda: fresh_platform.cancel_appointment(
        took.appointment_no, ref(fresh_platform, "he"), kiosk_id=A))
    assert isinstance(late, Refused) and late.code == "appointment_past"


def test_the_slip_code_is_checked_at_the_hall(fresh_platform: PlatformService) -> None:
    huang = ref(fresh_platform, "huang")
    booked = fresh_platform.book_appointment(BIRTH, huang, choice(TUESDAY_9), kiosk_id=A)
    assert booked.check_code is not None
    found = fresh_platform.check_appointment(booked.appointment_no, booked.check_code)
    assert found is not None and found.appointment_no == booked.appointment_no
    assert fresh_platform.check_appointment(booked.appointment_no, "22222222") is None
    assert fresh_platform.check_appointment("YY2026060200000000", booked.check_code) is None


def test_configured_halls_replace_the_demo_ones(fresh_platform: PlatformService,
                                                tmp_path: Path) -> None:
    one = load_halls()[3].model_copy(update={"id": "ss-centre", "district": "顺德区"})
    assert seed_halls(fresh_platform.engine, [one]) is False  # halls there: kept
    assert seed_halls(fresh_platform.engine, [one], replace=True) is True
    assert [h.id for h in fresh_platform.list_halls(BIRTH)] == ["ss-centre"]
    slot = fresh_platform.appointment_slots("ss-centre", BIRTH)[0]
    booked = fresh_platform.book_appointment(BIRTH, ref(fresh_platform, "huang"),
                                             choice(slot.at, "ss-centre"), kiosk_id=A)
    assert booked.hall_id == "ss-centre"


def test_a_bad_halls_file_names_the_key_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "halls.yaml"
    halls = yaml.safe_load(HALLS_FILE.read_text(encoding="utf-8"))
    halls["halls"][1]["hotline"] = "call us"
    bad.write_text(yaml.safe_dump(halls, allow_unicode=True), encoding="utf-8")
    with pytest.raises(HallsError, match=r"halls\.1\.hotline"):
        load_halls(bad)
    halls["halls"][1]["hotline"] = "0757-1"
    halls["halls"][2]["id"] = halls["halls"][0]["id"]
    bad.write_text(yaml.safe_dump(halls, allow_unicode=True), encoding="utf-8")
    with pytest.raises(HallsError, match="unique"):
        load_halls(bad)
    server = tmp_path / "server.json"
    CliRunner().invoke(main, ["backend", "issue-credentials", "--kiosk-id", "k-01",
                              "--credentials", str(server), "--out", str(tmp_path / "k.json")])
    result = CliRunner().invoke(main, ["backend", "serve", "--db", str(tmp_path / "p.sqlite"),
                                       "--credentials", str(server), "--halls", str(bad)])
    assert result.exit_code == 2 and "--halls" in result.output and "unique" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("hour", [0, 1, 7, 23])
@pytest.mark.parametrize("zone", ["china", "utc"])
def test_a_full_first_slot_reads_full_at_any_hour(fresh_platform: PlatformService,
                                                  hour: int, zone: str) -> None:
    """Just after midnight in Guangdong (16:00 UTC) the kiosk's screen test found the first
    slot, full, still offering its two places (the platform's clock may be in any zone)."""
    now = dt.datetime(2026, 6, 2, hour, 10, tzinfo=CHINA)
    fresh_platform.clock.now = now if zone == "china" else now.astimezone(dt.UTC)  # type: ignore[attr-defined]
    first = fresh_platform.appointment_slots(CENTRE, BIRTH)[0]
    for key in ("huang", "chen"):
        fresh_platform.book_appointment(BIRTH, ref(fresh_platform, key), choice(first.at),
                                        kiosk_id=A)
    again = next(s for s in fresh_platform.appointment_slots(CENTRE, BIRTH) if s.at == first.at)
    assert (again.capacity, again.free) == (2, 0), (first.at, hour)
