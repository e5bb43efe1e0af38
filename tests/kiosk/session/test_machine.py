"""The session state machine, state by state, with an injected clock."""

from __future__ import annotations

import pytest

from kiosk.backend.contract import Delivery
from kiosk.session import Event, InvalidTransition, SessionMachine, State, TimeoutPolicy
from tests.kiosk.session.factories import card, holder, matter, receipt


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def m(clock: FakeClock) -> SessionMachine:
    return SessionMachine(clock=clock, policy=TimeoutPolicy(timeout_s=60, warning_s=10,
                                                            elderly_factor=2.0))


def walk_to_review(m: SessionMachine, face: bool = True) -> None:
    m.dispatch(Event.START)
    m.dispatch(Event.SELECT_MATTER, matter=matter())
    m.dispatch(Event.BEGIN)
    assert m.state is State.IDENTIFY
    m.dispatch(Event.CARD_ACCEPTED, holder=holder(), card=card(), needs_face=face)
    if face:
        assert m.state is State.FACE_CONSENT
        m.dispatch(Event.FACE_CONSENT_GIVEN)
        assert m.state is State.FACE
        m.dispatch(Event.FACE_VERIFIED)
    assert m.state is State.CONSENT
    m.dispatch(Event.CONSENT_GIVEN, certificates=[], prepared=None)
    assert m.state is State.CERTIFICATES
    m.dispatch(Event.CONTINUE)
    assert m.state is State.FORM
    m.dispatch(Event.FORM_DONE, form={"name": "陈美玲", "phone": "13800000000"})
    assert m.state is State.REVIEW


def test_full_journey_ends_wiped(m: SessionMachine) -> None:
    seen: list[tuple[State, State]] = []
    m.subscribe(lambda t, _m: seen.append((t.source, t.target)))
    walk_to_review(m)
    m.dispatch(Event.SUBMIT, idempotency_key="k" * 16)
    assert m.state is State.SUBMITTING
    m.dispatch(Event.SUBMITTED, receipt=receipt())
    assert m.state is State.RESULT and m.data.receipt is not None
    m.dispatch(Event.CHOOSE_DELIVERY)
    m.dispatch(Event.DELIVERED, delivery=Delivery.PRINT)
    assert m.state is State.RATING
    m.dispatch(Event.RATED, score="good")
    assert m.state is State.GOODBYE
    assert m.data.personal_values() == {}
    m.dispatch(Event.FINISH)
    assert m.state is State.ATTRACT
    assert seen[0] == (State.ATTRACT, State.HOME)
    assert seen[-1] == (State.GOODBYE, State.ATTRACT)


def test_card_at_attract_identifies_first_then_home(m: SessionMachine) -> None:
    m.dispatch(Event.START)
    m.dispatch(Event.CARD_ACCEPTED, holder=holder(), needs_face=False)
    assert m.state is State.HOME and m.data.identified
    m.dispatch(Event.SELECT_MATTER, matter=matter())
    m.dispatch(Event.BEGIN)
    assert m.state is State.CONSENT  # already identified: no second identification


def test_identity_code_identifies_without_face(m: SessionMachine) -> None:
    m.dispatch(Event.START)
    m.dispatch(Event.SELECT_MATTER, matter=matter())
    m.dispatch(Event.BEGIN)
    m.dispatch(Event.IDENTIFIED, holder=holder())
    assert m.state is State.CONSENT and m.data.identified


def test_face_declined_drops_the_card_holder(m: SessionMachine) -> None:
    m.dispatch(Event.START)
    m.dispatch(Event.SELECT_MATTER, matter=matter())
    m.dispatch(Event.BEGIN)
    m.dispatch(Event.CARD_ACCEPTED, holder=holder(), card=card(), needs_face=True)
    assert not m.data.identified
    m.dispatch(Event.FACE_DECLINED)
    assert m.state is State.IDENTIFY
    assert m.data.holder is None and m.data.card is None


def test_face_failed_counts_attempts_and_returns_to_identify(m: SessionMachine) -> None:
    m.dispatch(Event.START)
    m.dispatch(Event.CARD_ACCEPTED, holder=holder(), needs_face=True)
    m.dispatch(Event.FACE_CONSENT_GIVEN)
    m.dispatch(Event.FACE_FAILED, error="face_mismatch")
    assert m.state is State.IDENTIFY
    assert m.data.face_attempts == 1 and m.data.holder is None
    assert m.data.last_error == "face_mismatch"


def test_consent_needs_identity_and_matter(m: SessionMachine) -> None:
    m.dispatch(Event.START)
    with pytest.raises(InvalidTransition):
        m.dispatch(Event.CONSENT_GIVEN)
    with pytest.raises(InvalidTransition):
        m.dispatch(Event.BEGIN)  # no matter chosen


def test_double_submit_is_refused(m: SessionMachine) -> None:
    walk_to_review(m, face=False)
    m.dispatch(Event.SUBMIT, idempotency_key="k" * 16)
    with pytest.raises(InvalidTransition):
        m.dispatch(Event.SUBMIT, idempotency_key="k" * 16)
    assert not m.can(Event.SUBMIT)


def test_submit_failed_returns_to_review_keeping_the_form(m: SessionMachine) -> None:
    walk_to_review(m, face=False)
    m.dispatch(Event.SUBMIT, idempotency_key="k" * 16)
    m.dispatch(Event.SUBMIT_FAILED, error="backend_down")
    assert m.state is State.REVIEW
    assert m.data.form["phone"] == "13800000000"
    assert m.data.idempotency_key == "k" * 16  # a retry reuses the key: never twice


def test_back_walks_the_history_sensibly(m: SessionMachine) -> None:
    walk_to_review(m, face=False)
    m.dispatch(Event.BACK)
    assert m.state is State.FORM
    m.dispatch(Event.BACK)
    assert m.state is State.CERTIFICATES
    m.dispatch(Event.BACK)
    assert m.state is State.CONSENT
    m.dispatch(Event.BACK)
    assert m.state is State.GUIDE
    m.dispatch(Event.BEGIN)
    assert m.state is State.CONSENT  # identified already: identify is not repeated


@pytest.mark.parametrize("stop_at", [State.HOME, State.GUIDE, State.IDENTIFY, State.FORM,
                                     State.REVIEW])
def test_cancel_from_any_state_wipes(m: SessionMachine, stop_at: State) -> None:
    m.dispatch(Event.START)
    if stop_at is not State.HOME:
        m.dispatch(Event.SELECT_MATTER, matter=matter())
    if stop_at in (State.IDENTIFY, State.FORM, State.REVIEW):
        m.dispatch(Event.BEGIN)
    if stop_at in (State.FORM, State.REVIEW):
        m.dispatch(Event.IDENTIFIED, holder=holder())
        m.dispatch(Event.CONSENT_GIVEN, certificates=[], prepared=None)
        m.dispatch(Event.CONTINUE)
    if stop_at is State.REVIEW:
        m.dispatch(Event.FORM_DONE, form={"phone": "13800000000"})
    assert m.state is stop_at
    t = m.dispatch(Event.CANCEL)
    assert t.wiped
    assert m.data.personal_values() == {}
    assert m.state in (State.GOODBYE, State.ATTRACT)
    if m.state is State.GOODBYE:  # a holder was known: remind to take the card
        assert stop_at in (State.FORM, State.REVIEW)


def test_cancel_at_attract_is_invalid(m: SessionMachine) -> None:
    with pytest.raises(InvalidTransition):
        m.dispatch(Event.CANCEL)


def test_inactivity_warns_then_times_out_and_wipes(m: SessionMachine, clock: FakeClock) -> None:
    warnings: list[bool] = []
    m.subscribe(lambda t, mm: warnings.append(mm.warning))
    walk_to_review(m, face=False)
    clock.advance(49)
    assert m.tick() is None and not m.warning
    clock.advance(2)  # 51 s: inside the 10 s warning
    assert m.tick() is None and m.warning
    assert warnings[-1] is True
    assert m.seconds_left() == pytest.approx(9)
    m.more_time()
    assert not m.warning and m.seconds_left() == pytest.approx(60)
    clock.advance(60)
    t = m.tick()
    assert t is not None and t.event is Event.TIMEOUT and t.wiped
    assert m.state is State.ATTRACT
    assert m.data.personal_values() == {}
    assert m.data.language == "zh_CN"


def test_touch_restarts_the_timer(m: SessionMachine, clock: FakeClock) -> None:
    m.dispatch(Event.START)
    clock.advance(59)
    m.touch()
    clock.advance(59)
    assert m.tick() is None and m.state is State.HOME


def test_elderly_mode_slows_timeouts(m: SessionMachine, clock: FakeClock) -> None:
    m.dispatch(Event.START)
    m.set_elderly(True)
    clock.advance(100)
    assert m.tick() is None and m.state is State.HOME
    clock.advance(21)
    assert m.tick() is not None and m.state is State.ATTRACT
    assert m.data.elderly is False  # preferences reset for the next citizen


def test_per_state_timeouts(clock: FakeClock) -> None:
    m = SessionMachine(clock=clock, policy=TimeoutPolicy(timeout_s=60, warning_s=10,
                                                         per_state={"home": 20}))
    m.dispatch(Event.START)
    clock.advance(21)
    m.tick()
    assert m.state is State.ATTRACT


def test_no_timeout_at_attract_or_while_submitting(m: SessionMachine, clock: FakeClock) -> None:
    clock.advance(10_000)
    assert m.tick() is None and m.state is State.ATTRACT
    walk_to_review(m, face=False)
    m.dispatch(Event.SUBMIT, idempotency_key="k" * 16)
    clock.advance(10_000)
    assert m.tick() is None and m.state is State.SUBMITTING


def test_goodbye_returns_to_attract_after_a_short_wait(m: SessionMachine,
                                                       clock: FakeClock) -> None:
    walk_to_review(m, face=False)
    m.dispatch(Event.CANCEL)
    assert m.state is State.GOODBYE
    clock.advance(9)
    m.tick()
    assert m.state is State.ATTRACT


def test_wipe_overwrites_buffers_in_place(m: SessionMachine) -> None:
    m.dispatch(Event.START)
    m.dispatch(Event.CARD_ACCEPTED, holder=holder(), needs_face=True, card_photo=b"\x01" * 1024)
    photo = m.data.card_photo
    assert photo is not None
    m.data.reference_photo = bytearray(b"\xff\xd8\xff" + b"\x07" * 100)
    ref = m.data.reference_photo
    hooks: list[str | None] = []
    m.on_wipe(lambda d: hooks.append(d.holder.ref if d.holder else None))
    m.dispatch(Event.CANCEL)
    assert hooks == ["ref-1"]  # the hook sees the data before it goes
    assert photo == bytearray(1024) and ref == bytearray(len(ref))
    assert m.data.card_photo is None and m.data.reference_photo is None


def test_session_numbers_increase_per_journey(m: SessionMachine) -> None:
    m.dispatch(Event.START)
    first = m.session_no
    m.dispatch(Event.CANCEL)
    m.dispatch(Event.START)
    assert m.session_no == first + 1


def test_listener_failure_does_not_break_the_journey(m: SessionMachine) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("view bug")

    m.subscribe(broken)
    m.dispatch(Event.START)
    assert m.state is State.HOME
