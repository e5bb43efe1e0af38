"""Submitting: the application is on its way (the outbox keeps it if the line drops)."""

from __future__ import annotations

from kivy.animation import Animation
from kivy.properties import NumericProperty

from screens.views.base import KioskScreen


class SubmittingScreen(KioskScreen):
    """Nothing to do but wait; no buttons, so nothing can be sent twice."""

    angle = NumericProperty(0.0)
    voice_key = "submitting_voice"

    def loop_animation(self) -> Animation:
        return Animation(angle=360, duration=1.2) + Animation(angle=0, duration=0)
