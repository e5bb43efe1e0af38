"""My appointments (from home, once identified): the open ones, each with a cancel button
that asks first (the cancel step). Numbers are masked, whole only while held."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from screens.viewmodel import safe
from screens.views.appointment_base import AppointmentScreen, when_text
from screens.widgets import Card, KButton, KLabel, SecretText, discard_children


class AppointmentMineScreen(AppointmentScreen):
    """The citizen's open appointments; cancelling one is confirmed first."""

    asking = BooleanProperty(False)  # the cancel step: "cancel this one?"
    question = StringProperty("")
    voice_key = "appt_mine_voice"

    @safe
    def refresh(self) -> None:
        view = self.view()
        self.asking = view.step.value == "cancel" and view.cancelling is not None
        box = self.ids.mine
        discard_children(box)
        self.question = ""
        if self.asking:
            self.question = self._describe(view, view.cancelling)
            return
        if not view.mine:
            box.add_widget(KLabel(text=self.t("appt_none"), role="muted", base=32,
                                  halign="center"))
        for appt in view.mine:
            box.add_widget(self._card(view, appt))

    def _where(self, view: Any, appt: Any) -> str:
        """The hall and window (the counter's own name for an appointment from before halls)."""
        hall = view.hall_of(appt)
        where = self.text_of(hall.name) if hall else appt.counter
        window = self.t("appt_window", n=appt.window) if appt.window else ""
        return f"{where} · {window}" if window else where

    def _describe(self, view: Any, appt: Any) -> str:
        return "\n".join((when_text(appt.at, self.vm.lang), self.matter_name(appt.matter_id),
                          self._where(view, appt)))

    def _card(self, view: Any, appt: Any) -> Card:
        card = Card(name=f"appt:{appt.appointment_no}")
        hall = view.hall_of(appt)
        card.add_widget(KLabel(text=when_text(appt.at, self.vm.lang), base=36, bold=True,
                               role="primary"))
        card.add_widget(KLabel(text=self.t("appt_matter",
                                           matter=self.matter_name(appt.matter_id)), base=28))
        card.add_widget(KLabel(text=self._where(view, appt), base=28, bold=True))
        if hall is not None:
            card.add_widget(KLabel(text=self.t("appt_address",
                                               address=self.text_of(hall.address)), base=24,
                                   role="muted"))
        card.add_widget(SecretText(value=appt.appointment_no, name=appt.appointment_no,
                                   template=self.t("appt_number", value="{value}"), base=26))
        btn = KButton(name=f"cancel_appt:{appt.appointment_no}", kind="danger", base=30,
                      text=self.t("appt_cancel"))
        btn.bind(on_release=lambda *_a, n=appt.appointment_no: self.ask(n))
        card.add_widget(btn)
        return card

    def spoken_text(self) -> str:
        if self.asking:
            return self.t("appt_cancel_question")
        return self.t(self.voice_key)

    @safe
    def ask(self, number: str) -> None:
        self.flow.ask_cancel(number)

    @safe
    def confirm_cancel(self) -> None:
        self.flow.confirm_cancel()

    def clear_personal(self) -> None:
        self.asking = False
        self.question = ""
        discard_children(self.ids.mine)
