"""Opening hours: open or closed now, when that changes next, when the nightly restart is due.

Pure functions of a configuration and a time (pass ``now``, a timezone-aware datetime), so
they are tested with a fake clock. Hours are local wall-clock times in the configured
timezone; a day's spans are ``"08:30-12:00, 13:00-17:30"`` (``24:00`` ends at midnight;
``closed`` for none), keyed by ``mon``..``sun``, a range ``mon-fri``, a list ``sat,sun`` or
``daily``. No hours at all: always open. Dates in ``closed_on`` (public holidays) are closed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SEARCH_DAYS = 400  # how far ahead next_change looks (a long closure still ends)
_SPAN = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)")
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


class HoursError(ValueError):
    """A malformed opening-hours setting (the message names the offending text)."""


@dataclass(frozen=True, order=True)
class Span:
    """Open from ``start`` to ``end``, minutes after local midnight (``end`` up to 1440)."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:" \
               f"{self.end % 60:02d}"


def parse_days(key: str) -> list[int]:
    """``mon`` -> [0]; ``mon-fri`` -> [0..4]; ``sat,sun`` -> [5, 6]; ``daily`` -> all."""
    out: list[int] = []
    for part in key.lower().replace(" ", "").split(","):
        if part == "daily":
            out += range(7)
            continue
        first, sep, last = part.partition("-")
        if first not in DAYS or (sep and last not in DAYS):
            raise HoursError(f"{key!r}: days are mon..sun, a range mon-fri, a list sat,sun "
                             "or daily")
        a, b = DAYS.index(first), DAYS.index(last) if sep else DAYS.index(first)
        if b < a:
            raise HoursError(f"{key!r}: a range runs forward (mon-fri, not fri-mon)")
        out += range(a, b + 1)
    return out


def parse_spans(text: str) -> tuple[Span, ...]:
    """``"08:30-12:00, 13:00-17:30"`` -> spans (sorted; overlaps and order are errors)."""
    if text.strip().lower() == "closed":
        return ()
    spans = []
    for part in text.split(","):
        match = _SPAN.fullmatch(part.strip())
        if not match:
            raise HoursError(f"{part.strip()!r}: expected HH:MM-HH:MM (or closed)")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        span = Span(h1 * 60 + m1, h2 * 60 + m2)
        if span.end > 1440 or span.end <= span.start:
            raise HoursError(f"{part.strip()!r}: must end after it starts, by 24:00 (a span "
                             "past midnight is two: ...-24:00 and the next day's 00:00-...)")
        spans.append(span)
    spans.sort()
    for a, b in zip(spans, spans[1:], strict=False):
        if b.start < a.end:
            raise HoursError(f"{text!r}: {a} and {b} overlap")
    return tuple(spans)


def parse_clock(text: str) -> time:
    match = _CLOCK.fullmatch(text.strip())
    if not match:
        raise HoursError(f"{text!r}: expected HH:MM")
    return time(int(match.group(1)), int(match.group(2)))


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HoursError(f"{name!r} is not a known time zone (e.g. Asia/Shanghai)") from None


@dataclass(frozen=True)
class HoursState:
    """What the closed screen and the display dimming need to know."""

    open: bool
    next_change: datetime | None  # None: it never changes (always open, or never opens)
    today: tuple[Span, ...]


class OpeningHours:
    """Configured opening hours in one time zone."""

    def __init__(self, week: Iterable[tuple[Span, ...]] | None, closed_on: Iterable[date] = (),
                 timezone: str = "Asia/Shanghai") -> None:
        self.week = tuple(week) if week is not None else None  # None: always open
        if self.week is not None and len(self.week) != 7:
            raise HoursError("a week has seven days")
        self.closed_on = frozenset(closed_on)
        self.tz = zone(timezone)

    @classmethod
    def parse(cls, hours: Mapping[str, str], closed_on: Iterable[date] = (),
              timezone: str = "Asia/Shanghai") -> OpeningHours:
        """From ``{"mon-fri": "08:30-17:30", "sat": "09:00-12:00"}``; days not named are
        closed; a day named twice is an error; an empty mapping is always open."""
        if not hours:
            return cls(None, closed_on, timezone)
        week: list[tuple[Span, ...] | None] = [None] * 7
        for key, text in hours.items():
            spans = parse_spans(text)
            for day in parse_days(key):
                if week[day] is not None:
                    raise HoursError(f"{key!r}: {DAYS[day]} is already given")
                week[day] = spans
        return cls([w or () for w in week], closed_on, timezone)

    @property
    def always_open(self) -> bool:
        return self.week is None and not self.closed_on

    def spans_on(self, day: date) -> tuple[Span, ...]:
        if day in self.closed_on:
            return ()
        if self.week is None:
            return (Span(0, 1440),)
        return self.week[day.weekday()]

    def is_open(self, now: datetime) -> bool:
        local = self._local(now)
        minute = local.hour * 60 + local.minute
        return any(s.start <= minute < s.end for s in self.spans_on(local.date()))

    def next_change(self, now: datetime) -> datetime | None:
        """The first moment after ``now`` when open turns closed or closed turns open."""
        if self.always_open:
            return None
        state = self.is_open(now)
        today = self._local(now).date()
        for offset in range(SEARCH_DAYS):
            day = today + timedelta(days=offset)
            marks = sorted({m for s in self.spans_on(day) for m in (s.start, s.end)} | {0})
            for minute in marks:
                moment = self._at(day, minute)
                if moment > now and self.is_open(moment) != state:
                    return moment
        return None

    def state(self, now: datetime) -> HoursState:
        return HoursState(self.is_open(now), self.next_change(now),
                          self.spans_on(self._local(now).date()))

    def _local(self, now: datetime) -> datetime:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return now.astimezone(self.tz)

    def _at(self, day: date, minute: int) -> datetime:
        if minute >= 1440:
            day, minute = day + timedelta(days=1), minute - 1440
        wall = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.tz)
        # a wall time in a DST gap does not exist: take the first real moment after it
        return wall.astimezone(ZoneInfo("UTC")).astimezone(self.tz)


def next_restart(at: time, now: datetime, timezone: str = "Asia/Shanghai") -> datetime:
    """The next nightly restart time (local ``at``) strictly after ``now``."""
    tz = zone(timezone)
    local = now.astimezone(tz)
    for offset in range(3):
        candidate = datetime.combine(local.date() + timedelta(days=offset), at, tzinfo=tz)
        candidate = candidate.astimezone(ZoneInfo("UTC")).astimezone(tz)
        if candidate > now:
            return candidate
    raise AssertionError("unreachable: a daily time recurs within two days")


def restart_due(at: time | None, started: datetime, now: datetime,
                timezone: str = "Asia/Shanghai") -> bool:
    """True when a nightly restart time has passed since the process ``started``."""
    return at is not None and next_restart(at, started, timezone) <= now
