"""Counter appointments (预约办) at the configured halls: halls, free slots, booking, the
holder's own appointments, cancelling. Used by :class:`~kiosk.backend.platform.service.
PlatformService`, whose sessions and matters it shares.

Rules:

- A slot takes as many citizens as the hall has windows for the matter: each booking holds
  one window (``counter``) at its time, and the database keeps an open (not cancelled)
  counter and time unique, so concurrent bookings never overbook; a booking that loses the
  race for a window tries the next one.
- Slots are on the hall's working days within its opening hours, from the next day on (never
  a past one), at most ``horizon_days`` ahead.
- Appointments belong to the holder: listed and cancelled through a live session of the kiosk
  that opened it; another holder's answers like an unknown number (numbers carry 8 random
  digits). A holder has at most ``max_open_per_holder`` open appointments, never two at the
  same time. The platform's writes for one booking are serialised per holder.
- A booking with an idempotency key (per kiosk) returns the appointment it made when retried,
  even once cancelled; the same key for another slot is ``idempotency_conflict``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.backend.contract import (
    Appointment,
    AppointmentSlot,
    AppointmentState,
    Delivery,
    Hall,
    InvalidRequest,
    Matter,
    NotFound,
    Refused,
    SlotChoice,
    Unavailable,
)
from kiosk.backend.platform.appointments import AppointmentPolicy
from kiosk.backend.platform.halls import HallSpec
from kiosk.backend.platform.models import AppointmentRow, HallRow, HolderRow
from kiosk.backend.platform.text import clean_text

if TYPE_CHECKING:
    from kiosk.backend.platform.service import PlatformService

UTC = dt.UTC
SHOWN_DAYS = 14  # how many days of slots a hall offers at once
_ATTEMPTS = 20
_HALL_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_KEY_RE = re.compile(r"[A-Za-z0-9._:\-]{8,64}")
# YY + date + 8 random digits (6 in numbers from older versions)
_NO_RE = re.compile(r"YY\d{8}(?:\d{6}|\d{8})", re.ASCII)
_CHECK_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def _naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(UTC).replace(tzinfo=None)


def _aware(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def _unknown() -> NotFound:
    return NotFound("no such appointment", code="appointment_not_found")


def _model(row: AppointmentRow, tz: dt.tzinfo) -> Appointment:
    """The contract value of a row, its time in the halls' zone ``tz``."""
    state = AppointmentState.CANCELLED if row.cancelled_at else AppointmentState.BOOKED
    return Appointment(appointment_no=row.appointment_no or "", matter_id=row.matter_id,
                       counter=row.counter, at=_aware(row.at).astimezone(tz),
                       hall_id=row.hall_id,
                       window=row.window_no, state=state, check_code=row.check_code)


def _digest(matter_id: str, hall_id: str, at: dt.datetime, holder_id: str) -> str:
    data = {"matter": matter_id, "hall": hall_id, "at": _naive(at).isoformat(),
            "holder": holder_id}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class AppointmentBook:
    """The appointment operations of one :class:`PlatformService` (see the module rules)."""

    def __init__(self, platform: PlatformService) -> None:
        self.platform = platform

    # -- halls and slots -------------------------------------------------------------------
    @staticmethod
    def _halls(s: Session) -> list[HallSpec]:
        rows = s.scalars(select(HallRow).order_by(HallRow.position))
        return [HallSpec.model_validate(r.definition) for r in rows]

    @staticmethod
    def _hall(s: Session, hall_id: str) -> HallSpec:
        hall_id = clean_text(hall_id, "hall_id", limit=40, strip=False)
        row = s.get(HallRow, hall_id) if _HALL_RE.fullmatch(hall_id) else None
        if row is None:
            raise NotFound("no such hall", code="hall_not_found")
        return HallSpec.model_validate(row.definition)

    def list_halls(self, matter_id: str | None = None,
                   district: str | None = None) -> list[Hall]:
        if district is not None:
            district = clean_text(district, "district", limit=40)
        with self.platform._tx() as s:
            halls = self._halls(s)
            if matter_id is not None:
                _row, matter = self.platform._matter(s, matter_id)
                halls = [h for h in halls if h.windows(matter.id)]
        halls.sort(key=lambda h: h.district != district)  # stable: the kiosk's district first
        return [h.public() for h in halls]

    @property
    def _tz(self) -> dt.tzinfo:
        return self.platform.appointments.tz

    def _policy(self, hall: HallSpec) -> AppointmentPolicy:
        return hall.policy(self.platform.appointments)

    @staticmethod
    def _slots(policy: AppointmentPolicy, now: dt.datetime,
               days: int | None = None) -> Iterator[dt.datetime]:
        """Slot starts from the next day on, ``days`` days (else the whole horizon)."""
        start, end = policy.window(now)
        if days is not None:
            end = min(end, start + dt.timedelta(days=days))
        day = start.date()
        while day < end.date():
            for at in policy.slots_on(day):
                if at > now:
                    yield at
            day += dt.timedelta(days=1)

    @staticmethod
    def _taken(s: Session, hall: HallSpec, windows: list[int], start: dt.datetime,
               end: dt.datetime) -> dict[dt.datetime, set[str]]:
        """Slot start -> the counters of ``windows`` held by open appointments then."""
        counters = [hall.counter(w) for w in windows]
        rows = s.execute(select(AppointmentRow.at, AppointmentRow.counter).where(
            AppointmentRow.counter.in_(counters), AppointmentRow.cancelled_at.is_(None),
            AppointmentRow.at >= _naive(start), AppointmentRow.at < _naive(end)))
        taken: dict[dt.datetime, set[str]] = {}
        for at, counter in rows:
            taken.setdefault(_aware(at), set()).add(counter)
        return taken

    @staticmethod
    def _windows(hall: HallSpec, matter: Matter) -> list[int]:
        windows = hall.windows(matter.id)
        if not windows:
            raise InvalidRequest("matter not booked at this hall", code="matter_not_at_hall")
        return windows

    def slots(self, hall_id: str, matter_id: str) -> list[AppointmentSlot]:
        now = self.platform._now()
        with self.platform._tx() as s:
            hall = self._hall(s, hall_id)
            _row, matter = self.platform._matter(s, matter_id)
            windows = self._windows(hall, matter)
            policy = self._policy(hall)
            start, end = policy.window(now)
            taken = self._taken(s, hall, windows, start, end)
        places = len(windows)
        return [AppointmentSlot(at=at, capacity=places,
                                free=max(0, places - len(taken.get(at, ()))))
                for at in self._slots(policy, now, SHOWN_DAYS)]

    # -- booking ---------------------------------------------------------------------------
    def book(self, matter_id: str, holder_ref: str, kiosk_id: str,
             choice: SlotChoice | None = None) -> Appointment:
        key = None
        if choice is not None:
            key = clean_text(choice.idempotency_key, "idempotency_key", limit=64, strip=False)
            if not _KEY_RE.fullmatch(key):
                raise InvalidRequest("idempotency key must be [A-Za-z0-9._:-]{8,64}",
                                     code="bad_idempotency_key")
            clean_text(choice.hall_id, "hall_id", limit=40, strip=False)
            try:  # a time with its zone, far from the calendar's ends (year 1, 9999)
                utc = choice.at.astimezone(UTC) if choice.at.tzinfo is not None else None
            except (ValueError, OverflowError):
                utc = None
            if utc is None or not 1900 < utc.year < 9000:
                raise InvalidRequest("slot time out of range or without a time zone",
                                     code="slot_invalid")
        for _ in range(_ATTEMPTS):
            try:
                return self._book(matter_id, holder_ref, kiosk_id, choice, key)
            except IntegrityError:
                continue  # a concurrent booking took the window (or number, or key) first
        raise Unavailable("appointment slots contended, try again", code="appointment_busy")

    def _book(self, matter_id: str, holder_ref: str, kiosk_id: str, choice: SlotChoice | None,
              key: str | None) -> Appointment:
        platform = self.platform
        with platform._tx() as s:
            _row, matter = platform._matter(s, matter_id)
            ctx = platform._resolve(s, holder_ref, kiosk_id)
            if Delivery.COUNTER not in matter.delivery and not matter.needs_original:
                raise InvalidRequest("matter needs no counter", code="no_counter_needed")
            # a write first: one booking of a holder at a time (PostgreSQL: the holder's row;
            # SQLite: the database's write lock, taken before anything is read)
            s.execute(update(HolderRow).where(HolderRow.id == ctx.holder.id)
                      .values(kind=HolderRow.kind))
            if choice is not None and key is not None:
                existing = s.scalar(select(AppointmentRow).where(
                    AppointmentRow.kiosk_id == kiosk_id, AppointmentRow.idempotency_key == key))
                if existing is not None:
                    if existing.request_hash != _digest(matter.id, choice.hall_id, choice.at,
                                                        ctx.holder.id):
                        raise Refused("idempotency key reused for another booking",
                                      code="idempotency_conflict")
                    return _model(existing, self._tz)
            now = platform._now()
            mine = list(s.scalars(select(AppointmentRow).where(
                AppointmentRow.holder_id == ctx.holder.id, AppointmentRow.cancelled_at.is_(None),
                AppointmentRow.at > _naive(now))))
            limit = platform.appointments.max_open_per_holder
            if len(mine) >= limit:
                raise Refused(f"at most {limit} open appointments", code="appointment_limit")
            busy = {_aware(a.at) for a in mine}
            if choice is None:
                hall = next((h for h in self._halls(s) if h.windows(matter.id)), None)
                if hall is None:
                    raise Refused("no hall takes appointments for this matter",
                                  code="no_slot_available")
                at, window = self._first_free(s, hall, matter, now, busy)
            else:
                hall = self._hall(s, choice.hall_id)
                at = self._chosen(self._policy(hall), now, choice.at)
                if at in busy:
                    raise Refused("the holder has an appointment at that time",
                                  code="appointment_same_time")
                window = self._free_window(s, hall, self._windows(hall, matter), at)
            row = AppointmentRow(
                appointment_no=f"YY{at.astimezone(self._policy(hall).tz):%Y%m%d}"
                               f"{secrets.randbelow(10 ** 8):08d}",
                matter_id=matter.id, holder_id=ctx.holder.id, session_ref=ctx.session.ref,
                counter=hall.counter(window), at=_naive(at), hall_id=hall.id,
                window_no=window, kiosk_id=kiosk_id, idempotency_key=key,
                request_hash=(_digest(matter.id, hall.id, at, ctx.holder.id)
                              if key is not None else None),
                check_code="".join(secrets.choice(_CHECK_ALPHABET) for _ in range(8)),
                booked_at=_naive(now))
            s.add(row)
            s.flush()
            return _model(row, self._tz)

    @staticmethod
    def _chosen(policy: AppointmentPolicy, now: dt.datetime, at: dt.datetime) -> dt.datetime:
        """``at`` if it is one of the hall's bookable slots; else refused."""
        if at <= now:
            raise Refused("that time has passed", code="slot_past")
        start, end = policy.window(now)
        if not start <= at < end:
            raise InvalidRequest("not a slot of this hall", code="slot_invalid")
        local = at.astimezone(policy.tz)
        if local not in set(policy.slots_on(local.date())):
            raise InvalidRequest("not a slot of this hall", code="slot_invalid")
        return local

    def _free_window(self, s: Session, hall: HallSpec, windows: list[int],
                     at: dt.datetime) -> int:
        taken = self._taken(s, hall, windows, at, at + dt.timedelta(seconds=1)).get(at, set())
        for window in windows:
            if hall.counter(window) not in taken:
                return window
        raise Refused("the slot is full", code="slot_full")

    def _first_free(self, s: Session, hall: HallSpec, matter: Matter, now: dt.datetime,
                    busy: set[dt.datetime]) -> tuple[dt.datetime, int]:
        """The first slot and window free for this holder at ``hall``."""
        windows = self._windows(hall, matter)
        policy = self._policy(hall)
        start, end = policy.window(now)
        taken = self._taken(s, hall, windows, start, end)
        for at in self._slots(policy, now):
            if at in busy:
                continue
            held = taken.get(at, set())
            for window in windows:
                if hall.counter(window) not in held:
                    return at, window
        raise Refused("no free appointment slot", code="no_slot_available")

    # -- the holder's appointments ---------------------------------------------------------
    def mine(self, holder_ref: str, kiosk_id: str) -> list[Appointment]:
        platform = self.platform
        with platform._tx() as s:
            ctx = platform._resolve(s, holder_ref, kiosk_id)
            rows = s.scalars(select(AppointmentRow).where(
                AppointmentRow.holder_id == ctx.holder.id, AppointmentRow.cancelled_at.is_(None),
                AppointmentRow.at > _naive(platform._now())).order_by(AppointmentRow.at))
            return [_model(r, self._tz) for r in rows]

    def cancel(self, appointment_no: str, holder_ref: str, kiosk_id: str) -> Appointment:
        platform = self.platform
        number = clean_text(appointment_no, "appointment_no", limit=32, strip=False)
        with platform._tx() as s:
            ctx = platform._resolve(s, holder_ref, kiosk_id)
            row = (s.scalar(select(AppointmentRow)
                            .where(AppointmentRow.appointment_no == number))
                   if _NO_RE.fullmatch(number) else None)
            if row is None or row.holder_id != ctx.holder.id:
                raise _unknown()
            if row.cancelled_at is None:
                now = platform._now()
                if _aware(row.at) <= now:
                    raise Refused("the appointment has passed", code="appointment_past")
                row.cancelled_at = _naive(now)
            return _model(row, self._tz)

    def check(self, appointment_no: str, check_code: str) -> Appointment | None:
        """At the hall (back office, not the kiosk contract): the appointment a slip's number
        and check code name, if they match; else None."""
        with self.platform._tx() as s:
            row = (s.scalar(select(AppointmentRow)
                            .where(AppointmentRow.appointment_no == appointment_no))
                   if _NO_RE.fullmatch(appointment_no) else None)
            if row is None or row.check_code is None or not secrets.compare_digest(
                    row.check_code.encode(), check_code.encode()):
                return None
            return _model(row, self._tz)
