"""Open or closed for citizens, on the running kiosk: the closed screen's facts, the refusal
of new journeys outside the hours, the grace of a session under way at closing time, and the
display's dimming.

:class:`HoursGate` turns on a worker of its own (every ``poll_s``, sooner when the hours
change next): it reads ``appliance`` from the configuration in force each turn, so hours a
fleet bundle changes live take effect on the next turn. Listeners hear of every change of
:class:`ClosedStatus` (on that thread; a UI marshals it).

* Closed: no new journey (the session machine's refusal, checked under its lock with the
  transition, as for out of service and maintenance): a card read or a scan at the closed
  screen starts nothing and reaches nothing.
* A session under way at closing time goes on for ``closing_grace_s``; then it is ended like an
  inactivity timeout ends one (wiped, back to the attract screen: the closed screen) unless it
  is submitting, which finishes first. The closed screen appears once it has ended.
* Opening time: the refusal lifts on its own (it reads the clock), the screen follows within
  a turn, the display comes back to full brightness.

Out of service and maintenance take precedence over closed on the screen (see
``screens/views/closed.py``): the closed screen promises an opening time that a kiosk out of
service could not keep, and a technician at the kiosk needs its screens at any hour.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from hardware.listeners import Listeners
from kiosk.appliance.config import ApplianceConfig
from kiosk.appliance.dimming import Dimmer
from kiosk.appliance.hours import OpeningHours, Span
from kiosk.session.machine import InvalidTransition
from kiosk.session.states import Event, State

log = logging.getLogger("kiosk.appliance.opening")

WallClock = Callable[[], datetime]
Listener = Callable[["ClosedStatus"], None]
# a journey in these states is not cut at the end of the grace: it finishes, then ends
FINISH_FIRST = frozenset({State.SUBMITTING})
UPCOMING_DAYS = 7


def local_now() -> datetime:
    return datetime.now().astimezone()


@dataclass(frozen=True)
class WeekRow:
    """Consecutive weekdays (0 = Monday) with the same spans (empty: closed)."""

    first: int
    last: int
    spans: tuple[Span, ...]


@dataclass(frozen=True)
class ClosedStatus:
    """What the closed screen shows and the app needs to decide whether to show it."""

    open: bool
    now: datetime  # local, in the configured zone
    next_open: datetime | None  # local; None: open now, or no opening scheduled
    today: tuple[Span, ...]
    week: tuple[WeekRow, ...]  # the regular week (empty when always open)
    closed_dates: tuple[date, ...]  # public holidays in the next days
    grace_session: int | None = None  # the session under way at closing, still allowed
    grace_until: datetime | None = None

    @property
    def closed(self) -> bool:
        return not self.open

    def days_until_open(self) -> int | None:
        """0 today, 1 tomorrow, ... (None: open, or never)."""
        if self.next_open is None:
            return None
        return (self.next_open.date() - self.now.date()).days

    def key(self) -> tuple[Any, ...]:
        return (self.open, self.next_open, self.today, self.week, self.closed_dates,
                self.grace_session, self.now.date())


def week_rows(hours: OpeningHours) -> tuple[WeekRow, ...]:
    """The regular week grouped into runs of days with the same spans."""
    if hours.week is None:
        return ()
    rows: list[WeekRow] = []
    for day, spans in enumerate(hours.week):
        if rows and rows[-1].spans == spans and rows[-1].last == day - 1:
            rows[-1] = WeekRow(rows[-1].first, day, spans)
        else:
            rows.append(WeekRow(day, day, spans))
    return tuple(rows)


class HoursGate:
    """Opening hours enforced on one kiosk (see the module docstring).

    ``machine``: the session machine (a ``refusal`` hook is wrapped, as maintenance does);
    ``settings``: the ``appliance`` section in force now; ``clock``: aware wall time (tests
    move it); ``dimmer``: the display, or None.
    """

    def __init__(self, machine: Any, settings: Callable[[], ApplianceConfig], *,
                 clock: WallClock = local_now, dimmer: Dimmer | None = None,
                 audit: Any = None, poll_s: float = 1.0) -> None:
        self.machine = machine
        self.settings = settings
        self.clock = clock
        self.dimmer = dimmer
        self.audit = audit
        self.poll_s = poll_s
        self._lock = threading.RLock()
        self._listeners: Listeners[Listener] = Listeners()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._parsed: tuple[ApplianceConfig, OpeningHours] | None = None
        self._grace: tuple[int, datetime] | None = None
        self._was_open: bool | None = None
        self._before: Callable[[], str | None] | None = None
        self._status = self._compute(self.clock())

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> HoursGate:
        """Refuse journeys while closed; evaluate now, then on a worker."""
        before = getattr(self.machine, "refusal", None)
        if callable(before):
            self._before = before
            self.machine.refusal = self._refusal
        self.machine.subscribe(self._on_transition)
        self.evaluate()
        self._thread = threading.Thread(target=self._run, name="opening-hours", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._before is not None and getattr(self.machine, "refusal", None) == \
                self._refusal:
            self.machine.refusal = self._before
        if self.dimmer is not None:
            self.dimmer.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status = self.evaluate()
            except Exception:  # the hours must keep being watched whatever one turn hit
                log.exception("opening hours turn failed")
                status = self._status
            wait = self.poll_s
            if status.next_open is not None or status.open:
                change = self.hours().next_change(status.now)
                if change is not None:
                    wait = min(wait, max(0.05, (change - status.now).total_seconds()))
            self._wake.wait(wait)
            self._wake.clear()

    # -- reading --------------------------------------------------------------------------
    def status(self) -> ClosedStatus:
        with self._lock:
            return self._status

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self._listeners.subscribe(listener)

    def refresh(self) -> None:
        """Evaluate again now (on the worker): after the clock moved or the config changed."""
        self._wake.set()

    def hours(self) -> OpeningHours:
        cfg = self.settings()
        with self._lock:
            if self._parsed is None or self._parsed[0] is not cfg:
                self._parsed = (cfg, cfg.opening_hours())
            return self._parsed[1]

    def is_open(self) -> bool:
        return self.hours().is_open(self.clock())

    def touch(self) -> None:
        """A touch on the screen (the UI thread): the display brightens for a while."""
        if self.dimmer is not None:
            self.dimmer.touch()

    # -- turning --------------------------------------------------------------------------
    def evaluate(self) -> ClosedStatus:
        """One turn: open or closed now, the grace of a session under way, the display;
        returns the status (listeners told when it changed). Callable from tests."""
        now = self.clock()
        status = self._compute(now)
        self._end_grace_if_due(status, now)
        status = self._compute(now)
        if self.dimmer is not None:
            self.dimmer.update(closed=status.closed, attract=self._at_attract())
        with self._lock:
            old = self._status
            self._status = status
            changed = status.key() != old.key()
            listeners = self._listeners.snapshot() if changed else []
        if status.open != old.open:
            log.info("opening hours: %s", "open" if status.open else "closed")
            self._audit("appliance.hours", "open" if status.open else "closed")
        for listener in listeners:
            try:
                listener(status)
            except Exception:  # a broken screen must not stop the hours
                log.exception("opening hours listener failed")
        return status

    def _compute(self, now: datetime) -> ClosedStatus:
        cfg = self.settings()
        hours = self.hours()
        local = now.astimezone(hours.tz)
        is_open = hours.is_open(now)
        with self._lock:
            if is_open:
                self._grace = None
            elif self._was_open is not False and self._grace is None:
                # closing now (or started closed): a citizen already served may finish
                session = self._session_under_way()
                if session is not None:
                    self._grace = (session, local + timedelta(seconds=cfg.closing_grace_s))
                    log.info("closing time: the session under way may go on %.0f s",
                             cfg.closing_grace_s)
            self._was_open = is_open
            grace = self._grace
        next_open = None if is_open else hours.next_change(now)
        today = local.date()
        holidays = tuple(sorted(d for d in hours.closed_on
                                if 0 <= (d - today).days < UPCOMING_DAYS))
        return ClosedStatus(
            open=is_open, now=local,
            next_open=next_open.astimezone(hours.tz) if next_open is not None else None,
            today=hours.spans_on(today), week=week_rows(hours), closed_dates=holidays,
            grace_session=grace[0] if grace else None, grace_until=grace[1] if grace else None)

    def _session_under_way(self) -> int | None:
        if self.machine.state is State.ATTRACT:
            return None
        return int(self.machine.session_no)

    def _at_attract(self) -> bool:
        return bool(self.machine.state is State.ATTRACT)

    def _end_grace_if_due(self, status: ClosedStatus, now: datetime) -> None:
        if status.open:
            return
        machine = self.machine
        with self._lock:
            grace = self._grace
        if machine.state is State.ATTRACT:
            if grace is not None:
                with self._lock:
                    self._grace = None  # that citizen has gone
            return
        session = int(machine.session_no)
        if grace is not None and grace[0] == session and now < grace[1]:
            return  # still within the grace
        if machine.state in FINISH_FIRST:
            return  # a submission under way finishes; the next turn ends the session
        why = "grace_over" if grace is not None and grace[0] == session else "closed"
        try:
            machine.dispatch(Event.TIMEOUT, in_session=session)
        except InvalidTransition:
            return
        log.info("citizen session ended: the kiosk is closed (%s)", why)
        self._audit("appliance.closed_session_ended", why)
        with self._lock:
            self._grace = None

    def _refusal(self) -> str | None:
        if not self.is_open():
            return "closed"
        return self._before() if self._before is not None else None

    def _on_transition(self, transition: Any, _machine: Any) -> None:
        if self._stop.is_set():
            return
        if transition.target is State.ATTRACT or transition.source is State.ATTRACT:
            self._wake.set()  # a session began or ended: the screen and the display follow

    def _audit(self, event: str, outcome: str) -> None:
        if self.audit is None:
            return
        try:
            self.audit.append(event, outcome, None)
        except Exception:  # an audit failure must not stop the hours
            log.exception("audit record not written")


def attach_hours(core: Any, *, clock: WallClock = local_now, poll_s: float = 1.0,
                 backlight: Any = None, monotonic: Callable[[], float] = time.monotonic
                 ) -> HoursGate:
    """The hours gate of a running kiosk (``core.cfg``, ``core.session``, ``core.audit``),
    with its display dimmer (the sysfs backlight of ``appliance.backlight``, or
    ``backlight``; in the simulation profile ``auto`` dims nothing), started.
    :meth:`HoursGate.close` undoes it."""
    from hardware.display.backlight import NoBacklight, open_backlight

    def settings() -> ApplianceConfig:
        return core.cfg.appliance  # type: ignore[no-any-return]

    cfg = settings()
    if backlight is not None:
        light = backlight
    elif cfg.backlight == "auto" and getattr(core.cfg, "profile", None) == "simulation":
        light = NoBacklight("simulation")  # a laptop's own screen is left alone unless named
    else:
        light = open_backlight(cfg.backlight_root, cfg.backlight)
    dimmer = Dimmer(light, settings, clock=monotonic)
    return HoursGate(core.session, settings, clock=clock, dimmer=dimmer,
                     audit=getattr(core, "audit", None), poll_s=poll_s).start()


def spans_text(spans: Sequence[Span], sep: str = ", ") -> str:
    return sep.join(str(s) for s in spans)
