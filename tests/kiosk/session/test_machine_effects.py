"""Side effects of a transition run after the machine's lock is released, and every result is
bound to the session that asked for it (issue 12, both bugs, at the machine's level)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from kiosk.session import Event, SessionData, SessionMachine, State, TimeoutPolicy
from kiosk.session.machine import StaleSession, Transition
from tests.kiosk.session.factories import holder
from tests.kiosk.session.test_machine import FakeClock

DEADLINE = 10.0  # a deadline for a thread that should return at once, never a delay


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def m(clock: FakeClock) -> SessionMachine:
    return SessionMachine(clock=clock, policy=TimeoutPolicy(timeout_s=60, warning_s=10))


def identified(m: SessionMachine) -> SessionData:
    m.dispatch(Event.START)
    m.dispatch(Event.IDENTIFIED, holder=holder())
    m.data.reference_photo = bytearray(b"\xff\xd8" + b"\x07" * 64)
    return m.data


def returns_at_once(fn: Callable[[], object]) -> bool:
    """Run ``fn`` on another thread; True when it returned within the deadline."""
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    t.join(DEADLINE)
    return not t.is_alive()


class Held:
    """A side effect that blocks until released (a backend that never answers)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, *_: object) -> None:
        self.entered.set()
        self.release.wait(60)


def test_a_blocking_wipe_hook_does_not_hold_the_lock(m: SessionMachine) -> None:
    ended = identified(m)
    held = Held()
    m.on_wipe(held)
    leaving = threading.Thread(target=m.dispatch, args=(Event.CANCEL,), daemon=True)
    try:
        leaving.start()
        assert held.entered.wait(DEADLINE)
        assert returns_at_once(m.touch), "a touch waited for the wipe hook"
        assert m.state is State.GOODBYE
        assert m.data is not ended and m.data.personal_values() == {}
        assert ended.ended.is_set()  # work for the ended session stops now, not later
    finally:
        held.release.set()
    leaving.join(DEADLINE)
    assert ended.personal_values() == {} and ended.reference_photo is None


def test_a_timeout_runs_hooks_and_listeners_outside_the_lock(m: SessionMachine,
                                                              clock: FakeClock) -> None:
    identified(m)
    hook, listener = Held(), Held()
    m.on_wipe(hook)
    m.subscribe(lambda t, _m: listener() if t.wiped else None)
    clock.advance(61)
    ticking = threading.Thread(target=m.tick, daemon=True)
    try:
        ticking.start()
        assert hook.entered.wait(DEADLINE)
        assert returns_at_once(m.touch), "a touch waited for the wipe hook of a timeout"
        hook.release.set()
        assert listener.entered.wait(DEADLINE)
        assert returns_at_once(m.touch), "a touch waited for a listener of a timeout"
        assert m.state is State.ATTRACT
    finally:
        hook.release.set()
        listener.release.set()
    ticking.join(DEADLINE)


def test_the_timeout_warning_is_told_outside_the_lock(m: SessionMachine,
                                                      clock: FakeClock) -> None:
    identified(m)
    held = Held()
    m.subscribe(lambda t, _m: held() if t.source is t.target else None)
    clock.advance(51)
    ticking = threading.Thread(target=m.tick, daemon=True)
    try:
        ticking.start()
        assert held.entered.wait(DEADLINE)
        assert returns_at_once(m.touch), "a touch waited for the warning's listener"
    finally:
        held.release.set()
    ticking.join(DEADLINE)


def test_hooks_see_the_ended_session_and_transitions_name_theirs(m: SessionMachine) -> None:
    seen: list[tuple[str | None, bool]] = []
    m.on_wipe(lambda d: seen.append((d.holder.ref if d.holder else None, d.ended.is_set())))
    transitions: list[Transition] = []
    m.subscribe(lambda t, _m: transitions.append(t))
    first = identified(m)
    m.set_language("en")
    m.dispatch(Event.CANCEL)
    assert seen == [("ref-1", True)]
    goodbye = m.data
    assert goodbye is not first and goodbye.language == "en" and not goodbye.ended.is_set()
    m.dispatch(Event.FINISH)
    assert m.data is not goodbye and goodbye.ended.is_set() and m.data.language == "zh_CN"
    m.dispatch(Event.START)
    assert [t.session_no for t in transitions] == [1, 1, 1, 1, 2]
    assert transitions[1].data is first and transitions[-1].data is m.data


def test_a_late_result_is_not_stored_in_another_session(m: SessionMachine) -> None:
    first = identified(m)
    live = m.data
    assert m.update(live, face_attempts=1) and live.face_attempts == 1
    m.dispatch(Event.CANCEL)
    assert not m.update(first, reference_photo=bytearray(b"late"))
    assert m.data.reference_photo is None and first.reference_photo is None
    m.dispatch(Event.FINISH)
    m.dispatch(Event.START)
    assert not m.update(first, holder=holder("ref-old"))
    assert m.data.holder is None


def test_an_event_for_an_ended_session_is_refused(m: SessionMachine) -> None:
    m.dispatch(Event.START)
    old = m.session_no
    m.dispatch(Event.CANCEL)
    m.dispatch(Event.START)
    assert m.state is State.HOME
    with pytest.raises(StaleSession):
        m.dispatch(Event.IDENTIFIED, in_session=old, holder=holder())
    assert m.data.holder is None and m.state is State.HOME
    m.dispatch(Event.IDENTIFIED, in_session=m.session_no, holder=holder())
    assert m.data.holder is not None
