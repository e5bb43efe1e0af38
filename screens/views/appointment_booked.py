"""Appointments, step 4: booked. The slip is printed (its QR code holds the number and the
check code only); the number on screen is masked like every identifier, whole only while held.
If the slip could not be printed, the appointment stands: print again, or find it later in
"my appointments"."""

from __future__ import annotations

from kivy.properties import StringProperty

from screens.viewmodel import safe
from screens.views.appointment_base import AppointmentScreen, when_text


class AppointmentBookedScreen(AppointmentScreen):
    """The appointment made, and its slip."""

    number = StringProperty("")
    matter = StringProperty("")
    when = StringProperty("")
    hall = StringProperty("")
    address = StringProperty("")
    window = StringProperty("")
    hotline = StringProperty("")
    slip = StringProperty("")  # printing | printed | failed
    slip_text = StringProperty("")
    voice_key = "appt_booked_voice"

    @safe
    def refresh(self) -> None:
        view = self.view()
        booked, hall = view.booked, view.hall
        if booked is None or hall is None:
            self.clear_personal()
            return
        self.number = booked.appointment_no
        self.matter = self.matter_name(booked.matter_id)
        self.when = when_text(booked.at, self.vm.lang)
        self.hall = self.text_of(hall.name)
        self.address = self.text_of(hall.address)
        self.window = (self.t("appt_window", n=booked.window) if booked.window
                       else booked.counter)
        self.hotline = hall.hotline
        self.slip = view.slip
        if view.slip == "printed":
            self.slip_text = "✓ " + self.t("appt_slip_printed")
        elif view.slip == "failed":
            reason = self.t(view.slip_error) if view.slip_error else ""
            self.slip_text = "✕ " + self.t("appt_slip_failed") + ("\n" + reason if reason
                                                                   else "")
        else:
            self.slip_text = "● " + self.t("appt_slip_printing")

    def spoken_text(self) -> str:
        return self.t("appt_booked_voice", when=self.when, hall=self.hall)

    @safe
    def print_again(self) -> None:
        self.flow.print_again()

    @safe
    def done(self) -> None:
        self.flow.close()

    @safe
    def finish(self) -> None:
        self.journey.finish()

    def clear_personal(self) -> None:
        self.number = self.matter = self.when = self.hall = self.address = ""
        self.window = self.hotline = self.slip = self.slip_text = ""
