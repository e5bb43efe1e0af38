"""Issue 17, appointments in the journey without UI, on real parts (the embedded platform, the
printer through a private cupsd to the emulator): a matter that needs a counter ends offering
a booking, the slip is printed with a QR code of the number and check code only; "my
appointments" from home (view, cancel with a confirm step); everything is session data."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from kiosk.backend.contract import AppointmentState, SlotChoice
from kiosk.core import KioskCore
from kiosk.session.appointments import AppointmentView, Step
from kiosk.session.states import State
from tests.kiosk.backend.helpers import card
from tests.kiosk.session.conftest import sim
from tests.kiosk.session.test_delivery_choice import _to_review
from tests.kiosk.session.test_journey import Watcher, personal_leftovers, printed_codes

HUANG = "440605198507201614"  # has the birth certificate: birth registration needs a counter
NAME = "黄志强"
BIRTH = "birth-registration"


def service(core: KioskCore) -> Any:
    return core.backend.inner.service  # type: ignore[union-attr]


def step(w: Watcher, core: KioskCore, wanted: Step) -> AppointmentView:
    w.until(lambda: core.journey.appointments.view().step is wanted,
            f"appointment step {wanted.value!r}")
    return core.journey.appointments.view()


def birth_registration_result(core: KioskCore, w: Watcher) -> None:
    """Huang identified by his code, birth registration submitted: its result screen."""
    core.journey.handle_code(service(core).issue_identity_code(HUANG))
    w.identified()
    assert core.journey.select_matter(BIRTH)
    core.journey.begin()
    w.state(State.CONSENT)
    core.journey.give_consent()
    w.state(State.CERTIFICATES)
    core.journey.continue_to_form()
    assert core.journey.submit_form({"phone": "13800138000"}) == {}
    w.state(State.REVIEW)
    core.journey.submit()
    w.state(State.RESULT)


def identify_at_home(core: KioskCore, w: Watcher, number: str = HUANG) -> None:
    core.journey.start_session()
    w.state(State.HOME)
    core.journey.handle_code(service(core).issue_identity_code(number))
    w.identified()
    w.state(State.HOME)


def test_a_counter_matter_ends_offering_a_booking_and_prints_the_slip(
        core: KioskCore, tmp_path: Path) -> None:
    w = Watcher(core)
    flow = core.journey.appointments
    _to_review(core, w, "sb-record-print")
    core.journey.submit()
    w.state(State.RESULT)
    assert not flow.can_book() and flow.start_booking() is None  # printed here: no counter
    core.journey.cancel()
    w.state(State.GOODBYE)
    core.journey.finish()
    w.state(State.ATTRACT)

    w.notices.clear()
    birth_registration_result(core, w)
    assert flow.can_book()
    flow.start_booking()
    halls = step(w, core, Step.HALLS).halls
    assert halls[0].id == "nh-admin-centre" and halls[0].district == core.cfg.kiosk.district
    flow.choose_hall(halls[0].id)
    slots = step(w, core, Step.SLOTS).slots
    assert slots and all(s.capacity == 2 for s in slots)
    chosen = slots[3]
    assert flow.choose_slot(chosen.at)
    step(w, core, Step.CONFIRM)
    # the platform cannot be reached: nothing booked, the citizen is told and may repeat
    core.backend.cut()  # type: ignore[union-attr]
    flow.confirm()
    w.notice("backend_down")
    assert flow.view().step is Step.CONFIRM
    core.backend.restore()  # type: ignore[union-attr]
    world = sim(core)
    before = len(world.printed())
    flow.confirm()
    view = step(w, core, Step.BOOKED)
    w.until(lambda: flow.view().slip == "printed", "slip printed")
    booked = view.booked
    assert booked is not None and booked.at == chosen.at and booked.hall_id == halls[0].id
    assert world.wait_printed(before + 1, 30)
    slip = world.printed()[-1].read_bytes()
    assert slip == core.journey.last_document
    codes = printed_codes(slip, tmp_path)
    assert codes == [f"YYBL:{booked.appointment_no}:{booked.check_code}"]
    assert NAME not in codes[0] and HUANG not in codes[0]
    # on the platform: one appointment, the holder's
    holder = core.session.data.holder
    assert holder is not None
    mine = core.backend.list_appointments(holder.ref)  # type: ignore[union-attr]
    assert [a.appointment_no for a in mine] == [booked.appointment_no]
    # print again: a second copy, on purpose
    flow.print_again()
    w.until(lambda: len(world.printed()) == before + 2 and flow.view().slip == "printed",
            "second copy")
    # back to the result: the flow closes; the session's end leaves nothing of it
    flow.back()
    assert flow.view() == AppointmentView()
    flow.start_booking()
    step(w, core, Step.HALLS)
    core.journey.finish()
    w.state(State.GOODBYE)
    assert flow.view() == AppointmentView()
    assert personal_leftovers(core, [booked.appointment_no, NAME, HUANG]) == []


def test_slot_taken_meanwhile_offers_fresh_slots(core: KioskCore) -> None:
    w = Watcher(core)
    flow = core.journey.appointments
    birth_registration_result(core, w)
    flow.start_booking()
    flow.choose_hall(step(w, core, Step.HALLS).halls[1].id)  # Guicheng: one window a slot
    view = step(w, core, Step.SLOTS)
    chosen = view.slots[0]
    assert chosen.capacity == 1
    flow.choose_slot(chosen.at)
    step(w, core, Step.CONFIRM)
    # another citizen takes the only place first
    assert view.hall is not None
    other = service(core).check_identity(card("chen"), kiosk_id=core.cfg.kiosk.id).ref
    service(core).book_appointment(BIRTH, other, SlotChoice(
        hall_id=view.hall.id, at=chosen.at, idempotency_key=uuid.uuid4().hex),
        kiosk_id=core.cfg.kiosk.id)
    w.notices.clear()
    flow.confirm()
    w.notice("slot_full")
    fresh = step(w, core, Step.SLOTS)
    assert next(s for s in fresh.slots if s.at == chosen.at).free == 0
    assert fresh.slot is None and not flow.choose_slot(chosen.at)  # a full one: not offered


def test_my_appointments_from_home_view_and_cancel(core: KioskCore) -> None:
    w = Watcher(core)
    flow = core.journey.appointments
    # booked at an earlier visit (another session)
    earlier = service(core).check_identity(card("huang"), kiosk_id=core.cfg.kiosk.id).ref
    halls = service(core).list_halls(BIRTH)
    slots = service(core).appointment_slots(halls[0].id, BIRTH)
    made = [service(core).book_appointment(BIRTH, earlier, SlotChoice(
        hall_id=halls[0].id, at=s.at, idempotency_key=uuid.uuid4().hex),
        kiosk_id=core.cfg.kiosk.id) for s in slots[:2]]
    service(core).end_session(earlier, kiosk_id=core.cfg.kiosk.id)
    # "my appointments" before identifying: asked to identify, then it opens by itself
    core.journey.start_session()
    w.state(State.HOME)
    assert flow.open_mine() is None
    w.notice("appointments_identify_first")
    core.journey.handle_code(service(core).issue_identity_code(HUANG))
    view = step(w, core, Step.MINE)
    assert [a.appointment_no for a in view.mine] == [a.appointment_no for a in made]
    assert view.hall_of(view.mine[0]) is not None
    # cancel one, with a confirm step (going back cancels nothing)
    assert flow.ask_cancel(made[0].appointment_no)
    assert step(w, core, Step.CANCEL).cancelling == made[0]
    flow.back()
    step(w, core, Step.MINE)
    assert flow.ask_cancel(made[0].appointment_no)
    step(w, core, Step.CANCEL)
    w.notices.clear()
    flow.confirm_cancel()
    w.notice("appointment_cancelled")
    view = step(w, core, Step.MINE)
    assert [a.appointment_no for a in view.mine] == [made[1].appointment_no]
    holder = core.session.data.holder
    assert holder is not None
    assert [a.appointment_no for a in core.backend.list_appointments(  # type: ignore[union-attr]
        holder.ref)] == [made[1].appointment_no]
    assert service(core).cancel_appointment(made[0].appointment_no, holder.ref,
                                            kiosk_id=core.cfg.kiosk.id).state is \
        AppointmentState.CANCELLED
    # leaving (or a timeout) ends it all: nothing of the list survives the session
    core.journey.cancel()
    w.state(State.GOODBYE)
    assert flow.view() == AppointmentView()
    assert personal_leftovers(core, [made[1].appointment_no, HUANG]) == []


def test_a_new_card_while_listing_closes_the_list(core: KioskCore) -> None:
    w = Watcher(core)
    flow = core.journey.appointments
    identify_at_home(core, w)
    flow.open_mine()
    step(w, core, Step.MINE)
    # someone else's identity code at home: the list of the first one closes at once
    core.journey.handle_code(service(core).issue_identity_code("440605195803121228"))
    w.until(lambda: core.session.data.holder is not None
            and core.session.data.holder.code != HUANG, "the other holder")
    assert flow.view() == AppointmentView()
