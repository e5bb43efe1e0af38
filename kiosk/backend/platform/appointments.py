"""Counter appointments: opening hours, working days and slots (pure; the service books)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

CHINA = dt.timezone(dt.timedelta(hours=8), "CST")
DEFAULT_HOURS: tuple[tuple[dt.time, dt.time], ...] = (
    (dt.time(9, 0), dt.time(12, 0)), (dt.time(14, 0), dt.time(17, 30)))


@dataclass(frozen=True)
class AppointmentPolicy:
    """When a counter takes appointments and how many one holder may have open.

    Slots of ``slot_minutes`` start at each opening period's start and end within it, on
    ``working_days`` (0 = Monday) in ``tz`` that are not in ``closed_dates`` (public
    holidays), from the next working day on, at most ``horizon_days`` ahead. An appointment is
    open until its time has passed.
    """

    max_open_per_holder: int = 3
    opening_hours: tuple[tuple[dt.time, dt.time], ...] = DEFAULT_HOURS
    slot_minutes: int = 15
    working_days: frozenset[int] = frozenset(range(5))
    closed_dates: frozenset[dt.date] = field(default_factory=frozenset)
    horizon_days: int = 60
    tz: dt.tzinfo = CHINA

    def __post_init__(self) -> None:
        if self.max_open_per_holder < 1:
            raise ValueError("max_open_per_holder must be at least 1")
        if not 1 <= self.slot_minutes <= 24 * 60:
            raise ValueError("slot_minutes must be 1..1440")
        if not self.opening_hours or any(start >= end for start, end in self.opening_hours):
            raise ValueError("opening hours must be (start, end) pairs with start < end")
        if not self.working_days or not self.working_days <= set(range(7)):
            raise ValueError("working_days must be weekdays 0 (Monday) .. 6")
        if self.horizon_days < 1:
            raise ValueError("horizon_days must be at least 1")

    @property
    def slot(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.slot_minutes)

    def is_open_on(self, day: dt.date) -> bool:
        return day.weekday() in self.working_days and day not in self.closed_dates

    def slots_on(self, day: dt.date) -> Iterator[dt.datetime]:
        """The slot start times (aware, in ``tz``) of ``day``, in order."""
        if not self.is_open_on(day):
            return
        for start, end in sorted(self.opening_hours):
            at = dt.datetime.combine(day, start, self.tz)
            stop = dt.datetime.combine(day, end, self.tz)
            while at + self.slot <= stop:
                yield at
                at += self.slot

    def window(self, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """Where slots are looked for: from the next day's start, ``horizon_days`` long."""
        first = now.astimezone(self.tz).date() + dt.timedelta(days=1)
        start = dt.datetime.combine(first, dt.time(0), self.tz)
        return start, start + dt.timedelta(days=self.horizon_days)

    def free_slot(self, now: dt.datetime, taken: set[dt.datetime]) -> dt.datetime | None:
        """The first slot from the next working day on whose start (aware) is not in
        ``taken``; None when the whole horizon is booked."""
        start, end = self.window(now)
        day = start.date()
        while day < end.date():
            for at in self.slots_on(day):
                if at not in taken:
                    return at
            day += dt.timedelta(days=1)
        return None
