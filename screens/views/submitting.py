"""Submitting: the application is on its way (the outbox keeps it if the line drops)."""

from __future__ import annotations

from typing import Any

from kivy.animation import Animation
from kivy.properties import NumericProperty

from screens.views.base import KioskScreen


class SubmittingScreen(KioskScreen):
    """Nothing to do but wait; no buttons, so nothing can be sent twice."""

    angle = NumericProperty(0.0)
    voice_key = "submitting_voice"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._anim: Animation | None = None

    def on_enter(self, *_args: Any) -> None:
        if self._anim is None:
            self._anim = Animation(angle=360, duration=1.2) + Animation(angle=0, duration=0)
            self._anim.repeat = True
            self._anim.start(self)

    def on_leave(self, *_args: Any) -> None:
        if self._anim is not None:
            self._anim.cancel(self)
            self._anim = None
