"""Appointments, step 3: what will be booked, read back before booking."""

from __future__ import annotations

from kivy.properties import StringProperty

from screens.viewmodel import safe
from screens.views.appointment_base import AppointmentScreen, when_text


class AppointmentConfirmScreen(AppointmentScreen):
    """Confirm the matter, hall, address and time."""

    matter = StringProperty("")
    hall = StringProperty("")
    address = StringProperty("")
    when = StringProperty("")
    voice_key = "appt_confirm_voice"

    @safe
    def refresh(self) -> None:
        view = self.view()
        if view.slot is None or view.hall is None:
            self.clear_personal()
            return
        self.matter = self.text_of(view.matter.name) if view.matter else ""
        self.hall = self.text_of(view.hall.name)
        self.address = self.text_of(view.hall.address)
        self.when = when_text(view.slot.at, self.vm.lang)

    def spoken_text(self) -> str:
        return self.t("appt_confirm_voice", when=self.when, hall=self.hall)

    @safe
    def confirm(self) -> None:
        self.flow.confirm()

    def clear_personal(self) -> None:
        self.matter = self.hall = self.address = self.when = ""
