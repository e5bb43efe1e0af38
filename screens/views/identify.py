"""Identify: ID card, identity QR code, or face (after the card and a separate consent)."""

from __future__ import annotations

from typing import Any

from kivy.animation import Animation
from kivy.properties import BooleanProperty, NumericProperty

from screens.views.base import KioskScreen


class IdentifyScreen(KioskScreen):
    """Tells the citizen exactly how to identify; the reader and scanner do the rest."""

    pulse = NumericProperty(1.0)
    enterprise = BooleanProperty(False)
    voice_key = "identify_voice"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._anim: Animation | None = None

    def refresh(self) -> None:
        matter = self.data.matter
        self.enterprise = matter is not None and matter.category == "enterprise"

    def on_enter(self, *_args: Any) -> None:
        if self._anim is None:
            self._anim = Animation(pulse=0.35, duration=0.9) + Animation(pulse=1.0, duration=0.9)
            self._anim.repeat = True
            self._anim.start(self)

    def on_leave(self, *_args: Any) -> None:
        if self._anim is not None:
            self._anim.cancel(self)
            self._anim = None
        self.pulse = 1.0
