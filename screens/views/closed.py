"""Closed: outside the opening hours (``appliance.hours``). Says so in all three languages,
when the kiosk opens next (in words: today at 13:00, tomorrow, Thursday 5 June), today's
and the week's hours, public holidays ahead, and where to turn meanwhile
(``appliance.closed_text``: the online service, the hall, the 12345 hotline); offers no way
into a journey. Shown by the app while :class:`kiosk.appliance.opening.HoursGate` says
closed, after a session under way at closing time has ended; left by itself at opening time.

Precedence: maintenance, then the technician prompt, then out of service, then closed. Out of
service wins over closed because the closed screen promises an opening time that a kiosk out
of service cannot keep (it also names the kiosk for a report); a technician needs the
maintenance screens at any hour."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from kivy.app import App
from kivy.properties import StringProperty

from screens.views.base import KioskScreen

TITLES = ("非服务时间", "非服務時間", "Closed now")


class ClosedScreen(KioskScreen):
    """What a citizen sees at a closed kiosk (nothing to touch)."""

    all_titles = StringProperty(" · ".join(TITLES))
    next_text = StringProperty("")
    today_text = StringProperty("")
    week_text = StringProperty("")
    holidays_text = StringProperty("")
    alternative = StringProperty("")
    kiosk_id = StringProperty("")

    def status(self) -> Any:
        app = App.get_running_app()
        hours = getattr(app, "hours", None)
        return hours.status() if hours is not None else None

    def refresh(self) -> None:
        cfg = self.vm.core.cfg
        self.alternative = cfg.appliance.closed_text.text(self.vm.lang)
        self.kiosk_id = cfg.kiosk.id
        status = self.status()
        if status is None:
            return
        self.next_text = self.next_words(status)
        self.today_text = self.t("closed_today", spans=self.spans(status.today)) \
            if status.today else self.t("closed_today_none")
        self.week_text = "\n".join(self.week_line(row) for row in status.week)
        self.holidays_text = "\n".join(
            self.t("closed_holiday", date=self.date_words(d),
                   weekday=self.t(f"closed_wd_{d.weekday()}")) for d in status.closed_dates)

    # -- words ----------------------------------------------------------------------------
    def spans(self, spans: Any) -> str:
        return self.t("closed_span_sep").join(str(s) for s in spans)

    def date_words(self, day: date) -> str:
        return self.t("closed_date", month=self.t(f"closed_month_{day.month}"), day=day.day)

    def next_words(self, status: Any) -> str:
        when: datetime | None = status.next_open
        days = status.days_until_open()
        if when is None or days is None:
            return self.t("closed_next_none")
        clock = when.strftime("%H:%M")
        weekday = self.t(f"closed_wd_{when.weekday()}")
        if days == 0:
            return self.t("closed_next_today", time=clock)
        if days == 1:
            return self.t("closed_next_tomorrow", weekday=weekday, time=clock)
        return self.t("closed_next_later", date=self.date_words(when.date()),
                      weekday=weekday, time=clock)

    def week_line(self, row: Any) -> str:
        first = self.t(f"closed_wd_{row.first}")
        days = first if row.first == row.last else \
            self.t("closed_range", first=first, last=self.t(f"closed_wd_{row.last}"))
        hours = self.spans(row.spans) if row.spans else self.t("closed_day_off")
        return f"{days}  {hours}"

    def spoken_text(self) -> str:
        return self.t("closed_voice", next=self.next_text)
