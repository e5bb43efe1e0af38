"""Face consent: a separate, explicit consent before any face capture, with an alternative."""

from __future__ import annotations

from screens.viewmodel import safe
from screens.views.base import KioskScreen


class FaceConsentScreen(KioskScreen):
    """Agree to a face check, or use the identity code instead."""

    voice_key = "face_consent_voice"

    @safe
    def agree(self) -> None:
        self.journey.give_face_consent()

    @safe
    def decline(self) -> None:
        self.journey.decline_face()
