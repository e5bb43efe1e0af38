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

    def refresh(self) -> None:
        matter = self.data.matter
        self.enterprise = matter is not None and matter.category == "enterprise"

    def loop_animation(self) -> Animation:
        return Animation(pulse=0.35, duration=0.9) + Animation(pulse=1.0, duration=0.9)

    def on_leave(self, *_args: Any) -> None:
        super().on_leave()
        self.pulse = 1.0
