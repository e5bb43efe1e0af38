"""Result: an instant decision, or the pending number and what happens next."""

from __future__ import annotations

import io
from typing import Any

from kivy.core.image import Image as CoreImage
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty

from screens.viewmodel import safe
from screens.views.base import KioskScreen

DONE_STATES = ("approved", "result_issued")


class ResultScreen(KioskScreen):
    """What the platform decided."""

    headline = StringProperty("")
    outcome = StringProperty("")  # done | pending | rejected
    number = StringProperty("")
    details = StringProperty("")
    can_deliver = BooleanProperty(False)
    code_texture = ObjectProperty(None, allownone=True)  # the receipt's verification QR
    voice_key = "result_voice"

    @safe
    def refresh(self) -> None:
        d = self.data
        receipt = d.receipt
        if receipt is None:
            self.clear_personal()
            return
        state = receipt.state.value
        if state in DONE_STATES:
            self.outcome, self.headline = "done", "✓ " + self.t("result_done")
        elif state == "rejected":
            self.outcome, self.headline = "rejected", "✕ " + self.t("result_rejected")
        else:
            self.outcome, self.headline = "pending", "● " + self.t("result_pending")
        self.number = receipt.application_no
        lines = []
        if receipt.application_no.startswith("P-"):
            lines.append(self.t("result_queued"))
        if receipt.decision_reason:
            lines.append(receipt.decision_reason)
        steps = self.text_of(receipt.next_steps) if receipt.next_steps else ""
        if steps:
            lines.append(steps)
        elif self.outcome == "pending" and d.matter is not None:
            lines.append(self.t("result_pending_steps", days=d.matter.time_limit_days))
        self.details = "\n".join(lines)
        self.can_deliver = bool(d.matter is not None and d.matter.delivery
                                and self.outcome != "rejected")
        self.code_texture = (qr_texture(receipt.verification_code)
                             if receipt.verification_code else None)

    def spoken_text(self) -> str:
        return self.headline

    @safe
    def deliver(self) -> None:
        self.journey.choose_delivery()

    @safe
    def finish(self) -> None:
        self.journey.finish()

    def clear_personal(self) -> None:
        self.headline = self.outcome = self.number = self.details = ""
        self.can_deliver = False
        self.code_texture = None


def qr_texture(text: str) -> Any:
    """A QR code as a Kivy texture (segno renders it; a few milliseconds)."""
    import segno

    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=8, border=2)
    buf.seek(0)
    return CoreImage(buf, ext="png").texture
