"""Appointments, step 1: the halls taking the matter, this district's first."""

from __future__ import annotations

from kivy.properties import StringProperty

from screens.viewmodel import safe
from screens.views.appointment_base import AppointmentScreen
from screens.widgets import KLabel, discard_children


class AppointmentHallsScreen(AppointmentScreen):
    """Choose the hall to visit."""

    matter = StringProperty("")
    voice_key = "appt_halls_voice"

    @safe
    def refresh(self) -> None:
        view = self.view()
        box = self.ids.halls
        discard_children(box)
        self.matter = self.text_of(view.matter.name) if view.matter else ""
        if not view.halls:
            box.add_widget(KLabel(text=self.t("no_hall_for_matter"), role="muted", base=30))
        for hall in view.halls:
            card = self.hall_card(hall, f"hall:{hall.id}")
            card.bind(on_release=lambda *_a, h=hall.id: self.choose(h))
            box.add_widget(card)

    @safe
    def choose(self, hall_id: str) -> None:
        self.flow.choose_hall(hall_id)

    def clear_personal(self) -> None:
        self.matter = ""
        discard_children(self.ids.halls)
