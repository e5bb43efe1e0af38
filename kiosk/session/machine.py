"""The session state machine: transitions, guards, inactivity timeout, wipe."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
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
    event: Event
    source: State
    target: State
    wiped: bool


Listener = Callable[[Transition, "SessionMachine"], None]


class SessionMachine:
    """The citizen journey. Thread-safe; listeners run after each transition.

    Payloads carried by events are stored in :attr:`data`. ``tick()`` drives the inactivity
    timer from an injected clock; ``touch()`` records citizen activity.
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
        """Run ``hook(data)`` just before a wipe (to end server-side sessions, say)."""
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
            timeout = self.policy.timeout_for(self.state, self.data.elderly) or 0.0
            if left <= 0:
                if self.state is State.GOODBYE:
                    return self.dispatch(Event.FINISH)
                return self.dispatch(Event.TIMEOUT)
            if not self.warning and left <= self.policy.warning_for(timeout, self.data.elderly):
                self.warning = True
                self._notify(Transition(Event.TIMEOUT, self.state, self.state, False))
            return None

    # -- preferences (not transitions) ----------------------------------------------------
    def set_language(self, language: str) -> None:
        with self._lock:
            self.data.language = language
            self.touch()

    def set_elderly(self, on: bool) -> None:
        with self._lock:
            self.data.elderly = on
            self.touch()

    # -- events ---------------------------------------------------------------------------
    def can(self, event: Event) -> bool:
        try:
            self._target(event, {})
        except InvalidTransition:
            return False
        return True

    def dispatch(self, event: Event, **payload: Any) -> Transition:
        """Apply ``event``; raise :class:`InvalidTransition` when it does not apply."""
        with self._lock:
            source = self.state
            target = self._target(event, payload)
            self._store(event, payload)
            wiped = False
            if target is State.GOODBYE or target is State.ATTRACT and source is not State.ATTRACT:
                # The journey is over: nothing personal survives past this point.
                keep = target is State.GOODBYE
                for hook in list(self._wipe_hooks):
                    try:
                        hook(self.data)
                    except Exception:  # the wipe itself must always happen
                        log.exception("wipe hook failed")
                self.data.wipe(keep_preferences=keep)
                wiped = True
            if target is State.ATTRACT and source is not State.ATTRACT:
                self.history.clear()
            elif target is not source:
                self.history.append(source)
            if source is State.ATTRACT and target is not State.ATTRACT:
                self.session_no += 1
            self.state = target
            self._last_activity = self.clock.now()
            self.warning = False
            transition = Transition(event, source, target, wiped)
        log.info("session %d: %s --%s--> %s", self.session_no, source, event, target)
        self._notify(transition)
        return transition

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
