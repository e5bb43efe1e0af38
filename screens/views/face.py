"""Face check in progress: what to do in front of the camera, live instructions."""

from __future__ import annotations

from typing import Any

from kivy.animation import Animation
from kivy.properties import NumericProperty

from screens.viewmodel import safe
from screens.views.base import KioskScreen


class FaceScreen(KioskScreen):
    """The camera is working; the citizen follows the prompts (progress notices)."""

    ring = NumericProperty(0.0)
    voice_key = "face_voice"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._anim: Animation | None = None

    def on_enter(self, *_args: Any) -> None:
        if self._anim is None:
            self._anim = Animation(ring=360, duration=2.0) + Animation(ring=0, duration=0)
            self._anim.repeat = True
            self._anim.start(self)

    def on_leave(self, *_args: Any) -> None:
        if self._anim is not None:
            self._anim.cancel(self)
            self._anim = None

    @safe
    def other_way(self) -> None:
        self.journey.back()
