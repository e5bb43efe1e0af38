"""Issue 12's two session bugs, on real parts (the embedded reference platform, the ID-card
simulator on a pty, the simulated camera): leaving never waits for the network, and a late
result never lands in the next citizen's session."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kiosk import compose
from kiosk.backend.contract import NotFound, Unavailable
from kiosk.backend.factory import create_backend
from kiosk.backend.switch import SwitchableBackend
from kiosk.core import KioskCore
from kiosk.session.states import State
from tests.kiosk.session.conftest import sim
from tests.kiosk.session.gates import GatedBackend
from tests.kiosk.session.test_journey import Watcher

DEADLINE = 30.0  # for what must happen; never a delay
AT_ONCE = 5.0  # a call that must not wait for the network returns well within this
CHEN = "440605195803121228"
XINCHUANG = "91440605MA4WKQ7T3N"  # chen is its legal representative


@pytest.fixture
def gated_core(make_config: Callable[..., Any]) -> Iterator[Callable[..., KioskCore]]:
    """Build a started core whose platform holds the named calls (or answers) at a gate."""
    cores: list[KioskCore] = []

    def build(calls: tuple[str, ...] = (), answers: tuple[str, ...] = ()) -> KioskCore:
        cfg = make_config(camera__source="sim://faces", face__deadline_s="40")
        backend = GatedBackend(create_backend(cfg), calls, answers)
        core = compose.build(cfg, backend=backend)  # type: ignore[arg-type]
        cores.append(core)
        return core

    yield build
    for core in cores:
        for gate in core.backend.gates.values():  # type: ignore[union-attr]
            gate.open()
        core.stop()


def on_thread(fn: Callable[[], object]) -> threading.Thread:
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    return t


def returned(t: threading.Thread, within: float = AT_ONCE) -> bool:
    t.join(within)
    return not t.is_alive()


def identify_with_code(core: KioskCore, w: Watcher, id_number: str = CHEN) -> str:
    service = core.backend.inner.service  # type: ignore[union-attr]
    core.journey.handle_code(service.issue_identity_code(id_number))
    w.identified()
    assert core.session.data.holder is not None
    return core.session.data.holder.ref


def session_alive(core: KioskCore, ref: str) -> bool:
    try:
        core.backend.inner.reference_photo(ref)  # type: ignore[union-attr]
    except NotFound:
        return False
    return True


def test_leaving_does_not_wait_for_a_platform_that_never_answers(
        gated_core: Callable[..., KioskCore]) -> None:
    core = gated_core(calls=("end_session",))
    gate = core.backend.gates["end_session"]  # type: ignore[union-attr]
    w = Watcher(core)
    person = identify_with_code(core, w)
    core.journey.identify_enterprise(XINCHUANG)
    w.notice("enterprise_identified")
    enterprise = core.session.data.enterprise
    assert enterprise is not None
    ended = core.session.data
    ended.reference_photo = bytearray(b"\xff\xd8" + b"\x07" * 64)
    photo = ended.reference_photo

    leaving = on_thread(core.journey.cancel)  # "Leave", as the UI thread taps it
    assert returned(leaving), "cancel() waited for end_session"
    assert core.session.state is State.GOODBYE
    assert core.session.data.personal_values() == {} and ended.personal_values() == {}
    assert photo == bytearray(len(photo))  # overwritten in place, not only dropped
    assert gate.entered.wait(DEADLINE)  # the platform is being told, on a worker
    assert returned(on_thread(core.journey.touch)), "a touch waited for end_session"
    assert returned(on_thread(core.session.tick)), "the ticker waited for end_session"
    assert session_alive(core, person)

    gate.open()
    assert gate.passed(2, DEADLINE)
    assert sorted(gate.done) == sorted([person, enterprise.ref])
    assert not session_alive(core, person) and not session_alive(core, enterprise.ref)


def test_stop_ends_every_session_the_platform_still_holds(
        gated_core: Callable[..., KioskCore]) -> None:
    core = gated_core(calls=("end_session",))
    gate = core.backend.gates["end_session"]  # type: ignore[union-attr]
    w = Watcher(core)
    first = identify_with_code(core, w)
    core.journey.cancel()
    core.journey.finish()
    assert gate.entered.wait(DEADLINE)  # first's end_session waits at the gate
    second = identify_with_code(core, w, "44060519480118102X")  # still here at shutdown
    gate.open()
    core.journey.stop()
    assert sorted(gate.done) == sorted([first, second])
    assert not session_alive(core, first) and not session_alive(core, second)


def test_stop_waits_for_the_platform_only_within_its_bound(
        gated_core: Callable[..., KioskCore]) -> None:
    core = gated_core(calls=("end_session",))
    gate = core.backend.gates["end_session"]  # type: ignore[union-attr]
    w = Watcher(core)
    identify_with_code(core, w)
    core.journey.cancel()
    assert gate.entered.wait(DEADLINE)
    core.journey.end_drain_s = 0.5
    started = time.monotonic()
    core.journey.stop()
    assert time.monotonic() - started < AT_ONCE
    assert gate.done == []  # it never answered; the kiosk stopped anyway


def test_a_cut_backend_cuts_end_session_too(make_config: Callable[..., Any]) -> None:
    core = compose.build(make_config())
    try:
        backend = core.backend
        assert isinstance(backend, SwitchableBackend)
        w = Watcher(core)
        ref = identify_with_code(core, w)
        backend.cut()
        with pytest.raises(Unavailable):
            backend.end_session(ref)
        core.journey.cancel()  # the wipe happens all the same
        assert core.session.data.personal_values() == {}
        core.journey.stop()  # drains the (refused) end_session
        backend.restore()
        assert session_alive(core, ref)  # the outage really kept the platform from hearing
    finally:
        core.stop()


def test_a_late_reference_photo_stays_out_of_the_next_session(
        gated_core: Callable[..., KioskCore]) -> None:
    core = gated_core(answers=("reference_photo",))  # the photo is on its way back
    gate = core.backend.gates["reference_photo"]  # type: ignore[union-attr]
    w = Watcher(core)
    sim(core).insert_card("chen")
    w.state(State.FACE_CONSENT)
    core.journey.give_face_consent()
    w.state(State.FACE)
    assert gate.entered.wait(DEADLINE)  # the face worker waits for the reference photo
    first = core.session.session_no
    core.journey.cancel()
    core.journey.finish()
    w.state(State.ATTRACT)
    assert core.journey.start_session()
    assert core.session.session_no == first + 1 and core.session.state is State.HOME

    gate.open()
    assert gate.passed(1, DEADLINE)
    # the first session's face work ends now (its cancel is set), not at its 40 s deadline
    w.until(lambda: any(n.kind == "idle" and n.key == "verifying_face" for n in w.notices),
            "the first session's face work to end", timeout=10.0)
    assert core.session.data.reference_photo is None
    assert core.session.data.personal_values() == {}
    assert core.session.state is State.HOME
