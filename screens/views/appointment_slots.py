"""Appointments, step 2: a day, then a time of that day, with the places left in words (a
full slot says so and cannot be chosen). Elderly mode: fewer, larger buttons."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kivy.clock import Clock
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.gridlayout import GridLayout

from screens.viewmodel import safe
from screens.views.appointment_base import (
    AppointmentScreen,
    day_button_text,
    day_text,
    slot_button,
)
from screens.widgets import KLabel, discard_children


class AppointmentSlotsScreen(AppointmentScreen):
    """Choose the day and the time."""

    hall = StringProperty("")
    day = StringProperty("")  # ISO date of the day shown
    page = NumericProperty(0)  # the chosen day's page of days (10 a page; elderly mode: 6)
    voice_key = "appt_slots_voice"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._hall_id = ""

    def _grid(self, cols: int) -> GridLayout:
        grid = GridLayout(cols=cols, spacing=self.vm.u * 12, size_hint_y=None)
        grid.bind(minimum_height=grid.setter("height"))
        return grid

    @safe
    def refresh(self) -> None:
        view = self.view()
        hall = view.hall
        self.hall = self.text_of(hall.name) if hall else ""
        if hall is None or hall.id != self._hall_id:
            self._hall_id, self.day, self.page = (hall.id if hall else ""), "", 0
        days: dict[dt.date, list[Any]] = {}
        for slot in view.slots:
            days.setdefault(slot.at.date(), []).append(slot)
        free_days = [d for d, slots in days.items() if any(s.free for s in slots)]
        if self.day not in {d.isoformat() for d in days}:
            self.day = free_days[0].isoformat() if free_days else ""
        elderly = self.vm.elderly
        day_box, time_box = self.ids.days, self.ids.times
        discard_children(day_box)
        discard_children(time_box)
        if not free_days:
            day_box.add_widget(KLabel(text=self.t("appt_no_free_slots"), role="danger",
                                      base=30, bold=True))
        # the days, a page at a time: the chosen day's page (paging chooses a day on it)
        per_page = self._per_page()
        order = list(days)
        chosen_at = next((i for i, d in enumerate(order) if d.isoformat() == self.day), 0)
        self.page = chosen_at // per_page
        pages = max(1, -(-len(order) // per_page))
        grid = self._grid(3 if elderly else 5)
        for day in order[self.page * per_page:(self.page + 1) * per_page]:
            slots = days[day]
            free = sum(s.free for s in slots)
            words = self.t("appt_places", n=free) if free else self.t("appt_full")
            iso = day.isoformat()
            btn = slot_button(f"{day_button_text(day, self.vm.lang)}\n{words}", f"day:{iso}",
                              full=not free, selected=iso == self.day, base=26, min_h=150)
            btn.bind(on_release=lambda *_a, d=iso: self.choose_day(d))
            grid.add_widget(btn)
        day_box.add_widget(grid)
        if pages > 1:
            row = self._grid(2)
            for name, key, to in (("days_earlier", "appt_days_earlier", self.page - 1),
                                  ("days_later", "appt_days_later", self.page + 1)):
                btn = slot_button(self.t(key), name, full=not 0 <= to < pages, base=28,
                                  min_h=90)
                btn.bind(on_release=lambda *_a, p=to: self.show_page(p))
                row.add_widget(btn)
            day_box.add_widget(row)
        chosen = [s for d, slots in days.items() if d.isoformat() == self.day for s in slots]
        if chosen:
            time_box.add_widget(KLabel(text=self.t("appt_times_of",
                                                   day=day_text(chosen[0].at, self.vm.lang)),
                                       base=30, bold=True))
        for part, slots in (("appt_morning", [s for s in chosen if s.at.hour < 12]),
                            ("appt_afternoon", [s for s in chosen if s.at.hour >= 12])):
            if not slots:
                continue
            time_box.add_widget(KLabel(text=self.t(part), base=28, bold=True, role="primary"))
            times = self._grid(3 if elderly else 4)
            for slot in slots:
                words = self.t("appt_places", n=slot.free) if slot.free else self.t("appt_full")
                btn = slot_button(f"{slot.at:%H:%M}\n{words}", f"slot:{slot.at:%H:%M}",
                                  full=not slot.free, base=30, min_h=130 if elderly else 116)
                btn.bind(on_release=lambda *_a, at=slot.at: self.choose(at))
                times.add_widget(btn)
            time_box.add_widget(times)

    def _per_page(self) -> int:
        return 6 if self.vm.elderly else 10

    @safe
    def show_page(self, page: int) -> None:
        """Earlier or later days: the first day of that page with a free place is chosen."""
        days = sorted({s.at.date() for s in self.view().slots})
        shown = days[page * self._per_page():(page + 1) * self._per_page()]
        free = {s.at.date() for s in self.view().slots if s.free}
        pick = next((d for d in shown if d in free), shown[0] if shown else None)
        if pick is not None:
            self.choose_day(pick.isoformat())

    @safe
    def choose_day(self, day: str) -> None:
        """Show that day's times, scrolled into view (below the days in elderly mode)."""
        self.day = day
        self.refresh()
        Clock.schedule_once(self._show_times, 0)

    def _show_times(self, _dt: float) -> None:
        scroll, times = self.ids.scroll, self.ids.times
        if times.children and scroll.children and scroll.children[0].height > scroll.height:
            scroll.scroll_to(times.children[-1], padding=self.vm.u * 12, animate=False)


    @safe
    def choose(self, at: dt.datetime) -> None:
        self.flow.choose_slot(at)

    def clear_personal(self) -> None:
        self.hall = self.day = self._hall_id = ""
        self.page = 0
        discard_children(self.ids.days)
        discard_children(self.ids.times)
