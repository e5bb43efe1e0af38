"""The bundle receipt: one number tying the applications, each matter's state in words and,
for one that failed, why; "try again" while the platform could not be reached."""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from screens.viewmodel import safe
from screens.views.bundle_base import BundleScreen, outcome_text, reason_text
from screens.widgets import Card, KLabel, discard_children


class BundleReceiptScreen(BundleScreen):
    """What became of each matter of the bundle."""

    headline = StringProperty("")
    outcome = StringProperty("")  # done | partial | failed
    number = StringProperty("")
    can_retry = BooleanProperty(False)
    voice_key = "bundle_receipt_voice"

    @safe
    def refresh(self) -> None:
        v = self.view()
        box = self.ids.matters
        discard_children(box)
        if not v.outcomes:
            self.headline = self.outcome = self.number = ""
            self.can_retry = False
            return
        failed = [o for o in v.outcomes if o.failed]
        if not failed:
            self.outcome, self.headline = "done", "✓ " + self.t("bundle_all_submitted")
        elif len(failed) < len(v.outcomes):
            self.outcome = "partial"
            self.headline = "● " + self.t("bundle_some_failed", n=len(failed),
                                          total=len(v.outcomes))
        else:
            self.outcome, self.headline = "failed", "✕ " + self.t("bundle_none_submitted")
        self.number = v.receipt_no
        self.can_retry = any(o.reason == "backend_down" for o in failed)
        for i, o in enumerate(v.outcomes, 1):
            card = Card(name=f"bundle_outcome:{o.matter.id}")
            card.add_widget(KLabel(text=f"{i}. {self.text_of(o.matter.name)}", base=30,
                                   bold=True))
            state, role = outcome_text(o, self.vm.lang)
            card.add_widget(KLabel(text=state, base=28, role=role, bold=True))
            if o.receipt is not None:
                card.add_widget(KLabel(text=self.t("application_no") + "  "
                                       + o.receipt.application_no, base=26))
            if o.failed:
                card.add_widget(KLabel(text=reason_text(o.reason, o.material, o.matter,
                                                        self.vm.lang), base=26,
                                       role="danger"))
            elif o.receipt is not None and o.receipt.next_steps:
                card.add_widget(KLabel(text=self.text_of(o.receipt.next_steps), base=24,
                                       role="muted"))
            box.add_widget(card)

    def spoken_text(self) -> str:
        return self.headline

    @safe
    def retry(self) -> None:
        self.flow.submit()

    @safe
    def finish(self) -> None:
        self.flow.finish()

    def clear_personal(self) -> None:
        self.headline = self.outcome = self.number = ""
        self.can_retry = False
        discard_children(self.ids.matters)
