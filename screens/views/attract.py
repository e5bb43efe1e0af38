"""Attract screen: rotating notices and "touch to start"; a card or code starts directly."""

from __future__ import annotations

from kivy.properties import NumericProperty

from screens.viewmodel import safe
from screens.views.base import KioskScreen

NOTICES = ("notice_1", "notice_2", "notice_3", "notice_4")


class AttractScreen(KioskScreen):
    """Idle screen between citizens."""

    notice_index = NumericProperty(0)
    poll_every = 6.0  # the notices rotate

    def poll(self, _dt: float) -> None:
        self.notice_index = (self.notice_index + 1) % len(NOTICES)

    def notice_key(self, index: int) -> str:
        return NOTICES[int(index) % len(NOTICES)]

    @safe
    def start(self) -> None:
        self.journey.start_session()
