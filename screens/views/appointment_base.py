"""What the appointment screens (预约办) share: the flow they show
(:class:`kiosk.session.appointments.AppointmentFlow`), dates and times in the citizen's
language (Babel's CLDR data), a hall's card, and the two entry points placed on other screens:
the offer of a counter visit on the result screen, and "my appointments" on home.

The flow is not a session state: the app shows ``appointment_<screen>`` over the state's own
screen while :attr:`ViewModel.appointment_step` names a step (see ``screens/kioskapp.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.properties import BooleanProperty
from kivy.uix.boxlayout import BoxLayout

from screens.i18n import tr
from screens.viewmodel import safe
from screens.views.base import KioskScreen
from screens.widgets import KButton, KLabel, TapCard

# the flow's steps and the screens that show them
SCREEN_OF_STEP = {"halls": "appointment_halls", "slots": "appointment_slots",
                  "confirm": "appointment_confirm", "booked": "appointment_booked",
                  "mine": "appointment_mine", "cancel": "appointment_mine"}
STATES = frozenset({"home", "result"})  # where the flow opens (and its screens show)


def _locale(lang: str) -> str:
    return {"zh_HK": "zh_Hant_HK"}.get(lang, lang)


def day_text(at: dt.datetime, lang: str) -> str:
    """``6月2日周二`` / ``Tue, Jun 2``."""
    from babel.dates import format_skeleton

    return str(format_skeleton("MMMEd", at.date(), locale=_locale(lang)))


def day_button_text(day: dt.date, lang: str) -> str:
    """Two short lines for a day button: ``6月2日`` / ``周二``."""
    from babel.dates import format_skeleton

    return "\n".join(str(format_skeleton(k, day, locale=_locale(lang))) for k in ("MMMd", "E"))


def when_text(at: dt.datetime, lang: str) -> str:
    """The day and the time: ``2026年6月2日周二 09:00``."""
    from babel.dates import format_skeleton

    return f"{format_skeleton('yMMMEd', at.date(), locale=_locale(lang))} {at:%H:%M}"


def text_of(i18n: dict[str, str], lang: str) -> str:
    return i18n.get(lang) or i18n.get("zh_CN") or next(iter(i18n.values()), "")


def flow() -> Any:
    return App.get_running_app().vm.core.journey.appointments


class AppointmentScreen(KioskScreen):
    """A screen of the appointment flow: reads the flow's view on refresh."""

    @property
    def flow(self) -> Any:
        return self.journey.appointments

    def view(self) -> Any:
        return self.flow.view()

    def matter_name(self, matter_id: str) -> str:
        for matter in self.vm.matters:
            if matter.id == matter_id:
                return self.text_of(matter.name)
        return matter_id

    def hall_card(self, hall: Any, name: str = "") -> TapCard:
        """A hall: name (and "in this district"), address, hours, hotline."""
        card = TapCard(name=name)
        title = self.text_of(hall.name)
        if hall.district == self.vm.core.cfg.kiosk.district:
            title += "  · " + self.t("appt_this_district")
        card.add_widget(KLabel(text=title, base=34, bold=True))
        card.add_widget(KLabel(text=self.t("appt_address", address=self.text_of(hall.address)),
                               base=26))
        card.add_widget(KLabel(text=self.t("appt_hours", hours=self.text_of(hall.hours)),
                               base=24, role="muted"))
        card.add_widget(KLabel(text=self.t("appt_hotline", hotline=hall.hotline), base=24,
                               role="muted"))
        return card

    @safe
    def go_back(self) -> None:
        self.flow.back()


class CounterVisitOffer(BoxLayout):
    """On the result screen: "book a counter visit" when the matter needs its originals
    checked at a counter; takes no room otherwise."""

    shown = BooleanProperty(False)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("orientation", "vertical")
        kwargs.setdefault("size_hint_y", None)
        super().__init__(**kwargs)
        self.hint = KLabel(base=28, role="primary", bold=True)
        self.button = KButton(name="book_visit", kind="primary", base=36)
        self.button.bind(on_release=lambda *_: self.book())
        self.bind(minimum_height=self._fit, shown=self._fit)
        Clock.schedule_once(self._attach, 0)

    def _attach(self, _dt: float) -> None:
        vm = App.get_running_app().vm
        vm.bind(state=self.update, lang=self.update, session_no=self.update,
                appointment_step=self.update)
        self.update()

    def _fit(self, *_args: Any) -> None:
        self.height = self.minimum_height if self.shown else 0
        self.opacity = 1 if self.shown else 0
        self.disabled = not self.shown

    def update(self, *_args: Any) -> None:
        app = App.get_running_app()
        if app is None or app.vm is None or app.vm.core.journey is None:
            return
        lang = app.vm.lang
        shown = app.vm.state == "result" and bool(flow().can_book())
        self.spacing = app.vm.u * 12
        self.hint.text = tr("appt_offer_hint", lang)
        self.button.text = tr("book_counter_visit", lang)
        if shown and not self.children:
            self.add_widget(self.hint)
            self.add_widget(self.button)
        elif not shown and self.children:
            self.clear_widgets()  # reused: added again when shown
        self.shown = shown
        self._fit()

    @safe
    def book(self) -> None:
        flow().start_booking()


class MyAppointmentsButton(KButton):
    """On home: the citizen's own appointments (asks to identify first when needed)."""

    @safe
    def on_release(self) -> None:
        flow().open_mine()


def slot_button(text: str, name: str, full: bool, selected: bool = False,
                base: float = 30, min_h: float = 104) -> KButton:
    """A day or time button: "full" is said in words, not colour alone."""
    btn = KButton(text=text, name=name, base=base, min_h=min_h, selected=selected,
                  kind="primary" if selected else "secondary")
    btn.disabled = full
    return btn
