"""The session state machine: transitions, guards, inactivity timeout, wipe."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kiosk.session.data import SessionData
from kiosk.session.states import BACK, IDENTIFY_FROM, NO_TIMEOUT, TRANSITIONS, Event, State

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> float: ...


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()


class InvalidTransition(Exception):
    """An event that does not apply in the current state (a double tap, a stale callback)."""

    def __init__(self, event: Event, state: State) -> None:
        super().__init__(f"event {event.value!r} does not apply in state {state.value!r}")
        self.event = event
        self.state = state


class StaleSession(InvalidTransition):
    """A result for a session that has ended: it never applies to the next citizen's."""

    def __init__(self, event: Event, state: State, session_no: int) -> None:
        super().__init__(event, state)
        self.args = (f"event {event.value!r} belongs to ended session {session_no}",)
        self.session_no = session_no


@dataclass(frozen=True)
class TimeoutPolicy:
    """Inactivity timeout (per state where configured) and the warning before it."""

    timeout_s: float = 90.0
    warning_s: float = 20.0
    elderly_factor: float = 2.0
    per_state: dict[str, float] | None = None
    goodbye_s: float = 8.0

    def timeout_for(self, state: State, elderly: bool) -> float | None:
        if state in NO_TIMEOUT:
            return None
        if state is State.GOODBYE:
            base = self.goodbye_s
        else:
            base = (self.per_state or {}).get(state.value, self.timeout_s)
        return base * (self.elderly_factor if elderly else 1.0)

    def warning_for(self, timeout: float, elderly: bool) -> float:
        warning = self.warning_s * (self.elderly_factor if elderly else 1.0)
        return min(warning, timeout / 2)


@dataclass(frozen=True)
class Transition:
    """What happened. ``session_no`` and ``data`` name the session it happened in (the
    fresh, empty one after a wipe), so work it starts stays bound to that session."""

    event: Event
    source: State
    target: State
    wiped: bool
    session_no: int = 0
    data: SessionData | None = field(default=None, compare=False, repr=False)


Listener = Callable[[Transition, "SessionMachine"], None]


class SessionMachine:
    """The citizen journey. Thread-safe; listeners run after each transition.

    Payloads carried by events are stored in :attr:`data`, a fresh :class:`SessionData` for
    every session: the end of a journey swaps it under the lock and sets the ended one's
    ``ended`` event, so a worker still holding it can neither write into the next citizen's
    session nor keep a camera running for nobody. ``tick()`` drives the inactivity timer
    from an injected clock; ``touch()`` records citizen activity.

    The lock guards state and data only. Side effects of a transition (wipe hooks, then the
    zeroing of the ended data, then listeners) run after it is released, on the caller's
    thread, so a slow side effect never stalls a touch on the UI thread. Listeners may
    therefore see transitions of two threads interleaved: read ``transition``, not the
    machine's current state, to know what happened.
    """

    def __init__(self, clock: Clock | None = None, policy: TimeoutPolicy | None = None) -> None:
        self.clock = clock or MonotonicClock()
        self.policy = policy or TimeoutPolicy()
        self.data = SessionData()
        self.state = State.ATTRACT
        self.session_no = 0
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._wipe_hooks: list[Callable[[SessionData], None]] = []
        self._last_activity = self.clock.now()
        self.warning = False
        self.history: list[State] = []

    # -- listeners ------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def on_wipe(self, hook: Callable[[SessionData], None]) -> None:
        """Run ``hook(ended)`` when a journey ends, with the ended session's data still
        readable, just before it is zeroed (to end server-side sessions, say).

        It runs after the lock is released, on the thread that ended the journey (the UI's,
        for "Leave"): it must not block; hand network work to a worker.
        """
        self._wipe_hooks.append(hook)

    # -- activity and time ----------------------------------------------------------------
    def touch(self) -> None:
        """The citizen did something: restart the inactivity timer, clear the warning."""
        with self._lock:
            self._last_activity = self.clock.now()
            self.warning = False

    def more_time(self) -> None:
        self.touch()

    def seconds_left(self) -> float | None:
        timeout = self.policy.timeout_for(self.state, self.data.elderly)
        if timeout is None:
            return None
        return max(0.0, timeout - (self.clock.now() - self._last_activity))

    def tick(self) -> Transition | None:
        """Check the inactivity timer: raise the warning, or time out and wipe."""
        with self._lock:
            left = self.seconds_left()
            if left is None:
                return None
            if left > 0:
                timeout = self.policy.timeout_for(self.state, self.data.elderly) or 0.0
                if self.warning or left > self.policy.warning_for(timeout, self.data.elderly):
                    return None
                self.warning = True
                warning = Transition(Event.TIMEOUT, self.state, self.state, False,
                                     self.session_no, self.data)
            else:
                event = Event.FINISH if self.state is State.GOODBYE else Event.TIMEOUT
                transition, ended = self._apply(event, {}, None)
        if left > 0:
            self._notify(warning)
            return None
        self._after(transition, ended)
        return transition

    # -- preferences (not transitions) ----------------------------------------------------
    def set_language(self, language: str) -> None:
        with self._lock:
            self.data.language = language
            self.touch()

    def set_elderly(self, on: bool) -> None:
        with self._lock:
            self.data.elderly = on
            self.touch()

    def idle(self) -> bool:
        """At the attract screen, read under the lock: a start that passed its guards has
        finished its transition. With a refusal set first, the answer then stays true (the
        hold-then-check of a restart at an idle moment, :mod:`kiosk.appliance.hold`)."""
        with self._lock:
            return self.state is State.ATTRACT

    # -- events ---------------------------------------------------------------------------
    def can(self, event: Event) -> bool:
        try:
            self._target(event, {})
        except InvalidTransition:
            return False
        return True

    def dispatch(self, event: Event, /, *, in_session: int | None = None,
                 **payload: Any) -> Transition:
        """Apply ``event``; raise :class:`InvalidTransition` when it does not apply, and
        :class:`StaleSession` when ``in_session`` names a session that is no longer the
        current one (checked under the lock, with the transition)."""
        with self._lock:
            transition, ended = self._apply(event, payload, in_session)
        self._after(transition, ended)
        return transition

    def update(self, data: SessionData, **values: Any) -> bool:
        """Store a worker's result in ``data`` only while it is still the live session's
        (under the lock); False, storing nothing, when that session has ended."""
        with self._lock:
            if data is not self.data or data.ended.is_set():
                return False
            for name, value in values.items():
                setattr(data, name, value)
            return True

    def _apply(self, event: Event, payload: dict[str, Any],
               in_session: int | None) -> tuple[Transition, SessionData | None]:
        """The transition itself, under the lock: state, data, and the swap of the data
        object when the journey ends. Returns the ended session's data (else None)."""
        source = self.state
        if in_session is not None and in_session != self.session_no:
            raise StaleSession(event, source, in_session)
        target = self._target(event, payload)
        self._store(event, payload)
        ended: SessionData | None = None
        if target is State.GOODBYE or target is State.ATTRACT and source is not State.ATTRACT:
            # The journey is over: nothing personal survives past this point. Preferences
            # stay for the goodbye screen only.
            ended = self.data
            ended.ended.set()  # its workers stop now, and can store nothing more
            self.data = SessionData()
            if target is State.GOODBYE:
                for name in SessionData.PREFERENCES:
                    setattr(self.data, name, getattr(ended, name))
        if target is State.ATTRACT and source is not State.ATTRACT:
            self.history.clear()
        elif target is not source:
            self.history.append(source)
        if source is State.ATTRACT and target is not State.ATTRACT:
            self.session_no += 1
        self.state = target
        self._last_activity = self.clock.now()
        self.warning = False
        return Transition(event, source, target, ended is not None, self.session_no,
                          self.data), ended

    def _after(self, transition: Transition, ended: SessionData | None) -> None:
        """Side effects of a transition, outside the lock: wipe hooks, the in-place zeroing
        of the ended data (before this returns, whatever the hooks do), then listeners."""
        log.info("session %d: %s --%s--> %s", transition.session_no, transition.source,
                 transition.event, transition.target)
        if ended is not None:
            try:
                for hook in list(self._wipe_hooks):
                    try:
                        hook(ended)
                    except Exception:  # the wipe itself must always happen
                        log.exception("wipe hook failed")
            finally:
                ended.wipe()
        self._notify(transition)

    def _notify(self, transition: Transition) -> None:
        for listener in list(self._listeners):
            try:
                listener(transition, self)
            except Exception:  # a broken view must not break the journey
                log.exception("session listener failed")

    def _after_identified(self) -> State:
        return State.CONSENT if self.data.matter is not None else State.HOME

    def _target(self, event: Event, payload: dict[str, Any]) -> State:
        state = self.state
        d = self.data
        if event is Event.CANCEL:
            if state is State.ATTRACT:
                raise InvalidTransition(event, state)
            return State.GOODBYE if d.holder or d.card else State.ATTRACT
        if event is Event.TIMEOUT:
            if state is State.ATTRACT:
                raise InvalidTransition(event, state)
            return State.ATTRACT
        if event is Event.BACK:
            if state not in BACK:
                raise InvalidTransition(event, state)
            target = BACK[state]
            if target is State.IDENTIFY and d.identified:
                return State.GUIDE
            if target is State.GUIDE and d.matter is None:
                return State.HOME
            return target
        if event is Event.BEGIN:
            if state is not State.GUIDE or d.matter is None:
                raise InvalidTransition(event, state)
            return self._after_identified() if d.identified else State.IDENTIFY
        if event is Event.CARD_ACCEPTED:
            if state not in IDENTIFY_FROM or "holder" not in payload:
                raise InvalidTransition(event, state)
            if payload.get("needs_face"):
                return State.FACE_CONSENT
            return self._after_identified()
        if event is Event.IDENTIFIED:
            if state not in IDENTIFY_FROM | {State.FACE} or "holder" not in payload:
                raise InvalidTransition(event, state)
            return self._after_identified()
        if event is Event.FACE_VERIFIED:
            if state is not State.FACE or d.holder is None:
                raise InvalidTransition(event, state)
            return self._after_identified()
        if event is Event.CONSENT_GIVEN:
            if state is not State.CONSENT or not d.identified or d.matter is None:
                raise InvalidTransition(event, state)
            return State.CERTIFICATES
        if event is Event.SELECT_MATTER and state is State.HOME and "matter" not in payload:
            raise InvalidTransition(event, state)
        found = TRANSITIONS.get((event, state))
        if found is None:
            raise InvalidTransition(event, state)
        return found

    def _store(self, event: Event, payload: dict[str, Any]) -> None:
        d = self.data
        if event is Event.SELECT_MATTER:
            d.matter = payload["matter"]
        elif event is Event.CARD_ACCEPTED:
            d.holder = payload["holder"]
            d.card = payload.get("card")
            d.needs_face = bool(payload.get("needs_face"))
            d.face_verified = False
            if payload.get("card_photo") is not None:
                d.card_photo = bytearray(payload["card_photo"])
        elif event is Event.IDENTIFIED:
            d.holder = payload["holder"]
            d.card = payload.get("card", d.card)
            d.needs_face = False
            d.face_verified = bool(payload.get("face_verified", False))
            if "enterprise" in payload:
                d.enterprise = payload["enterprise"]
        elif event is Event.FACE_CONSENT_GIVEN:
            d.face_consent = True
        elif event is Event.FACE_DECLINED:
            d.face_consent = False
            d.holder = None
            d.card = None
            d.needs_face = False
        elif event is Event.FACE_VERIFIED:
            d.face_verified = True
        elif event is Event.FACE_FAILED:
            d.face_attempts += 1
            d.holder = None
            d.card = None
            d.last_error = payload.get("error", "face_failed")
        elif event is Event.CONSENT_GIVEN:
            d.certificate_consent = True
            d.certificates = list(payload.get("certificates", []))
            d.prepared = payload.get("prepared")
        elif event is Event.FORM_DONE:
            d.form = dict(payload.get("form", {}))
        elif event is Event.SUBMIT:
            d.idempotency_key = payload.get("idempotency_key", d.idempotency_key)
        elif event is Event.SUBMITTED:
            d.receipt = payload["receipt"]
            d.last_error = None
        elif event is Event.SUBMIT_FAILED:
            d.last_error = payload.get("error", "submit_failed")
        elif event is Event.DELIVERED:
            d.delivery = payload.get("delivery")
            d.mail_address = payload.get("mail_address")
        elif event is Event.RATED:
            d.rating = payload.get("score")
