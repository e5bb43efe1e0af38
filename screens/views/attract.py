"""Attract screen: rotating notices and "touch to start"; a card or code starts directly."""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.properties import NumericProperty

from screens.viewmodel import safe
from screens.views.base import KioskScreen

NOTICES = ("notice_1", "notice_2", "notice_3", "notice_4")


class AttractScreen(KioskScreen):
    """Idle screen between citizens."""

    notice_index = NumericProperty(0)
    rotate_s = 6.0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ev: Any = None

    def on_enter(self, *_args: Any) -> None:
        if self._ev is None:
            self._ev = Clock.schedule_interval(self._rotate, self.rotate_s)

    def on_leave(self, *_args: Any) -> None:
        if self._ev is not None:
            self._ev.cancel()
            self._ev = None

    def _rotate(self, _dt: float) -> None:
        self.notice_index = (self.notice_index + 1) % len(NOTICES)

    def notice_key(self, index: int) -> str:
        return NOTICES[int(index) % len(NOTICES)]

    @safe
    def start(self) -> None:
        self.journey.start_session()
