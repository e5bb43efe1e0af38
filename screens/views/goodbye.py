"""Goodbye: take the card and the documents; the session is already wiped."""

from __future__ import annotations

from screens.viewmodel import safe
from screens.views.base import KioskScreen


class GoodbyeScreen(KioskScreen):
    """Shown for a few seconds, then back to the attract screen."""

    voice_key = "goodbye_voice"

    @safe
    def done(self) -> None:
        self.journey.finish()
