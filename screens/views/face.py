"""Face check in progress: what to do in front of the camera, live instructions."""

from __future__ import annotations

from kivy.animation import Animation
from kivy.properties import NumericProperty

from screens.viewmodel import safe
from screens.views.base import KioskScreen


class FaceScreen(KioskScreen):
    """The camera is working; the citizen follows the prompts (progress notices)."""

    ring = NumericProperty(0.0)
    voice_key = "face_voice"

    def loop_animation(self) -> Animation:
        return Animation(ring=360, duration=2.0) + Animation(ring=0, duration=0)

    @safe
    def other_way(self) -> None:
        self.journey.back()
