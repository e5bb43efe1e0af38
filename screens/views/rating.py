"""Rating (好差评): good, average or bad, each with a word and stars, not colour alone."""

from __future__ import annotations

from kivy.properties import BooleanProperty

from screens.viewmodel import safe
from screens.views.base import KioskScreen


class RatingScreen(KioskScreen):
    """One tap rates and goes on; skipping is fine."""

    rated = BooleanProperty(False)
    voice_key = "rating_voice"

    def refresh(self) -> None:
        self.rated = False

    @safe
    def rate(self, score: str) -> None:
        if self.rated:  # a double tap rates once
            return
        self.rated = True
        self.journey.rate(score)

    @safe
    def skip(self) -> None:
        self.journey.finish()
