"""Counter appointments in the citizen journey (预约办): "book a counter visit" after a matter
that needs one (原件核验), and "my appointments" (view, cancel) from home once identified.

A sub-flow beside the session machine, not states of it: it opens from the result screen or
from home and closes when the citizen leaves it, or at any transition of the machine (the
session went on, timed out or ended). What it holds (halls, the chosen slot, appointments with
their numbers and check codes) is session data: bound to the session that opened it, never
stored for another one, dropped at that session's wipe.

Network work runs on the journey's workers (busy and idle notices, failures as plain message
keys); every change is told as ``Notice("appointment", <step>)`` and screens read
:meth:`AppointmentFlow.view`. The slip is printed through the printer role; "print again" is a
new document, a retry of the same print never prints twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import logging
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kiosk.backend.contract import (
    ApplicationState,
    Appointment,
    AppointmentSlot,
    Hall,
    Matter,
    Refused,
    SlotChoice,
)
from kiosk.session.data import SessionData
from kiosk.session.states import Event, State

if TYPE_CHECKING:
    from kiosk.session.journey import Journey
    from kiosk.session.machine import SessionMachine, Transition

log = logging.getLogger("kiosk.appointments")

# work keys of the flow and what the audit log calls them (outcome codes only)
AUDITED = {"booking_appointment": "appointment.book",
           "cancelling_appointment": "appointment.cancel",
           "printing_slip": "appointment.slip"}
# refusals after which the citizen chooses another slot from fresh ones
_CHOOSE_AGAIN = frozenset({"slot_full", "slot_past", "slot_invalid"})


class Step(enum.StrEnum):
    CLOSED = ""
    HALLS = "halls"  # choose a hall
    SLOTS = "slots"  # choose a day and a time
    CONFIRM = "confirm"
    BOOKED = "booked"  # the slip printed (or not: ``slip``)
    MINE = "mine"  # my appointments
    CANCEL = "cancel"  # confirm cancelling one


@dataclass(frozen=True)
class AppointmentView:
    """What the appointment screens show now (a snapshot)."""

    step: Step = Step.CLOSED
    origin: str = ""  # the session state it opened from
    matter: Matter | None = None
    halls: tuple[Hall, ...] = ()
    hall: Hall | None = None
    slots: tuple[AppointmentSlot, ...] = ()
    slot: AppointmentSlot | None = None
    booked: Appointment | None = None
    slip: str = ""  # printing | printed | failed
    slip_error: str = ""  # message key of a failed print
    mine: tuple[Appointment, ...] = ()
    cancelling: Appointment | None = None

    def hall_of(self, appointment: Appointment) -> Hall | None:
        return next((h for h in self.halls if h.id == appointment.hall_id), None)


def needs_counter(matter: Matter | None) -> bool:
    """Whether a matter ends with a visit to a counter (originals checked there)."""
    return matter is not None and matter.needs_original


class AppointmentFlow:
    """The appointment sub-flow of one :class:`~kiosk.session.journey.Journey`."""

    def __init__(self, journey: Journey) -> None:
        self.journey = journey
        self._lock = threading.Lock()
        self._view = AppointmentView()
        self._bound: SessionData | None = None  # the session the view belongs to
        self._key: str | None = None  # idempotency key of the chosen slot's booking
        self._prints = 0
        self._wants_mine: SessionData | None = None  # "my appointments" before identifying
        journey.machine.subscribe(self._on_transition)
        journey.machine.on_wipe(self._on_wipe)

    @property
    def machine(self) -> SessionMachine:
        return self.journey.machine

    def view(self) -> AppointmentView:
        with self._lock:
            return self._view

    @property
    def is_open(self) -> bool:
        return self.view().step is not Step.CLOSED

    # -- opening ---------------------------------------------------------------------------
    def can_book(self) -> bool:
        """At the result of a matter that needs a counter, not refused."""
        d = self.machine.data
        receipt = d.receipt
        return (self.machine.state is State.RESULT and needs_counter(d.matter)
                and d.applicant is not None and receipt is not None
                and receipt.state is not ApplicationState.REJECTED)

    def start_booking(self) -> Future[None] | None:
        """Offer the halls taking the session's matter, the kiosk's district first."""
        if not self.can_book():
            return None
        d = self.machine.data
        matter = d.matter
        if matter is None:
            return None
        self._open(d, matter)

        def work(_session_no: int) -> None:
            halls = self.journey._need_backend().list_halls(
                matter.id, self.journey.cfg.kiosk.district)
            if not halls:
                self.journey.notify("error", "no_hall_for_matter")
                self._reset(d)
                return
            self._set(d, step=Step.HALLS, halls=tuple(halls))

        return self.journey._work("loading_halls", work)

    def open_mine(self) -> Future[None] | None:
        """"My appointments" from home; before identifying, the citizen is asked to place
        the ID card or show the code, and the list opens once identified."""
        d = self.machine.data
        if self.machine.state is not State.HOME:
            return None
        holder = d.holder
        if holder is None or not d.identified:
            with self._lock:
                self._wants_mine = d
            self.journey.notify("info", "appointments_identify_first")
            return None
        self._open(d, None)

        def work(_session_no: int) -> None:
            backend = self.journey._need_backend()
            mine = backend.list_appointments(holder.ref)
            halls = backend.list_halls(None, self.journey.cfg.kiosk.district)
            self._set(d, step=Step.MINE, mine=tuple(mine), halls=tuple(halls))

        return self.journey._work("loading_appointments", work)

    # -- booking ---------------------------------------------------------------------------
    def choose_hall(self, hall_id: str) -> Future[None] | None:
        v, d = self.view(), self._bound
        hall = next((h for h in v.halls if h.id == hall_id), None)
        matter = v.matter
        if hall is None or matter is None or d is None or v.step is not Step.HALLS:
            return None

        def work(_session_no: int) -> None:
            slots = self.journey._need_backend().appointment_slots(hall.id, matter.id)
            self._set(d, step=Step.SLOTS, hall=hall, slots=tuple(slots), slot=None)

        return self.journey._work("loading_slots", work)

    def choose_slot(self, at: dt.datetime) -> bool:
        v, d = self.view(), self._bound
        slot = next((s for s in v.slots if s.at == at and s.free > 0), None)
        if slot is None or d is None or v.step is not Step.SLOTS:
            return False
        with self._lock:
            self._key = uuid.uuid4().hex  # one booking of this slot, however often retried
        return self._set(d, step=Step.CONFIRM, slot=slot)

    def confirm(self) -> Future[None] | None:
        """Book the chosen slot (a repeat after a failure books nothing twice), then print
        the slip."""
        v, d, key = self.view(), self._bound, self._key
        if (v.step is not Step.CONFIRM or d is None or key is None or v.hall is None
                or v.slot is None or v.matter is None or d.applicant is None):
            return None
        hall, slot, matter, holder = v.hall, v.slot, v.matter, d.applicant

        def work(_session_no: int) -> None:
            backend = self.journey._need_backend()
            choice = SlotChoice(hall_id=hall.id, at=slot.at, idempotency_key=key)
            try:
                booked = backend.book_appointment(matter.id, holder.ref, choice)
            except Refused as exc:
                if exc.code in _CHOOSE_AGAIN:  # taken meanwhile: fresh slots to choose from
                    slots = backend.appointment_slots(hall.id, matter.id)
                    self._set(d, step=Step.SLOTS, slots=tuple(slots), slot=None)
                raise
            if self._set(d, step=Step.BOOKED, booked=booked, slip="printing"):
                self._print(d, booked, hall, matter, again=False)

        return self.journey._work("booking_appointment", work)

    def print_again(self) -> Future[None] | None:
        v, d = self.view(), self._bound
        if v.step is not Step.BOOKED or v.booked is None or v.hall is None or d is None \
                or v.matter is None or v.slip == "printing":
            return None
        self._set(d, slip="printing", slip_error="")
        return self._print(d, v.booked, v.hall, v.matter, again=True)

    def _print(self, d: SessionData, booked: Appointment, hall: Hall, matter: Matter, *,
               again: bool) -> Future[None]:
        with self._lock:
            self._prints += 1
            copy = self._prints
        doc_id = f"{booked.appointment_no}:slip" + (f":{copy}" if again else "")

        def work(_session_no: int) -> str | None:
            error, code = self.journey.print_for(
                d, doc_id, lambda: slip_pdf(booked, hall, matter, self.journey.cfg),
                "appointment slip")
            if error is None:
                self._set(d, slip="printed", slip_error="")
            elif error != "canceled":
                self._set(d, slip="failed", slip_error=error)
            return code

        return self.journey._work("printing_slip", work)

    # -- my appointments -------------------------------------------------------------------
    def ask_cancel(self, appointment_no: str) -> bool:
        v, d = self.view(), self._bound
        found = next((a for a in v.mine if a.appointment_no == appointment_no), None)
        if found is None or d is None or v.step is not Step.MINE:
            return False
        return self._set(d, step=Step.CANCEL, cancelling=found)

    def confirm_cancel(self) -> Future[None] | None:
        v, d = self.view(), self._bound
        if v.step is not Step.CANCEL or v.cancelling is None or d is None or d.holder is None:
            return None
        number, holder = v.cancelling.appointment_no, d.holder

        def work(_session_no: int) -> None:
            backend = self.journey._need_backend()
            backend.cancel_appointment(number, holder.ref)
            mine = backend.list_appointments(holder.ref)
            if self._set(d, step=Step.MINE, mine=tuple(mine), cancelling=None):
                self.journey.notify("info", "appointment_cancelled")

        return self.journey._work("cancelling_appointment", work)

    # -- leaving ---------------------------------------------------------------------------
    def back(self) -> None:
        """One step back; from the first step, close (the screen it opened from again)."""
        v, d = self.view(), self._bound
        if d is None:
            return
        if v.step is Step.CONFIRM:
            self._set(d, step=Step.SLOTS, slot=None)
        elif v.step is Step.SLOTS:
            self._set(d, step=Step.HALLS, slots=(), slot=None)
        elif v.step is Step.CANCEL:
            self._set(d, step=Step.MINE, cancelling=None)
        else:
            self.close()

    def close(self) -> None:
        with self._lock:
            d = self._bound
        if d is not None:
            self._reset(d)

    # -- state -----------------------------------------------------------------------------
    def _open(self, d: SessionData, matter: Matter | None) -> None:
        with self._lock:
            self._bound = d
            self._view = AppointmentView(origin=self.machine.state.value, matter=matter)
            self._key = None
            self._wants_mine = None

    def _set(self, d: SessionData, **changes: Any) -> bool:
        """Change the view of session ``d`` while it is the live one; False, changing
        nothing, once it has ended or the flow was closed or opened for another."""
        with self._lock:
            if self._bound is not d or d.ended.is_set() or d is not self.machine.data:
                return False
            self._view = dataclasses.replace(self._view, **changes)
            step = self._view.step
        self.journey.notify("appointment", step.value)
        return True

    def _reset(self, d: SessionData | None = None) -> None:
        """Close (only if bound to ``d``, when given) and drop everything held."""
        with self._lock:
            if d is not None and self._bound is not d:
                return
            was_open = self._view.step is not Step.CLOSED or self._bound is not None
            self._view = AppointmentView()
            self._bound = None
            self._key = None
        if was_open:
            self.journey.notify("appointment", Step.CLOSED.value)

    def _on_transition(self, transition: Transition, _machine: SessionMachine) -> None:
        if (transition.event is Event.TIMEOUT and transition.source is transition.target
                and not transition.wiped):
            return  # the inactivity warning: the citizen is still here
        self._reset()
        with self._lock:
            wants = self._wants_mine
        data = transition.data
        if (wants is not None and wants is data and transition.target is State.HOME
                and data is not None and data.identified):
            self.open_mine()  # asked for before identifying: now it can be shown

    def _on_wipe(self, data: SessionData) -> None:
        with self._lock:
            if self._wants_mine is data:
                self._wants_mine = None
        self._reset(data)


def slip_pdf(booked: Appointment, hall: Hall, matter: Matter, cfg: Any) -> bytes:
    """The appointment slip in the configured paper layout (zh_CN like every document)."""
    from kiosk.documents import AppointmentSlipInfo, render_appointment_slip

    zh = "zh_CN"
    window = f"{booked.window}号窗口" if booked.window else booked.counter
    info = AppointmentSlipInfo(
        appointment_no=booked.appointment_no, check_code=booked.check_code or "",
        qr_payload=booked.slip_code, matter_name=matter.name.get(zh, matter.id),
        hall_name=hall.name.get(zh, hall.id), hall_address=hall.address.get(zh, ""),
        counter=window, at=booked.at, hours=hall.hours.get(zh, ""), hotline=hall.hotline,
        kiosk_id=cfg.kiosk.id, printed_at=dt.datetime.now(booked.at.tzinfo))
    return render_appointment_slip(info, cfg.printer.paper)
