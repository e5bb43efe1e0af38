"""The bundle receipt: one number tying the applications, each matter's state in words and,
for one that failed, why; "try again" while the platform could not be reached; the receipt
on paper (each matter's number and state, and why one failed in the words shown here)."""

from __future__ import annotations

from typing import Any

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
    can_print = BooleanProperty(False)
    printed = StringProperty("")  # "" | printing | printed | failed
    print_text = StringProperty("")
    print_label = StringProperty("")
    voice_key = "bundle_receipt_voice"

    @safe
    def refresh(self) -> None:
        v = self.view()
        box = self.ids.matters
        discard_children(box)
        self._show_print(v)
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

    def _show_print(self, v: Any) -> None:
        self.can_print = bool(v.printable)
        self.printed = v.printed
        self.print_label = self.t("bundle_print_again" if v.printed == "printed"
                                  else "bundle_print")
        if v.printed == "printed":
            self.print_text = "✓ " + self.t("bundle_printed")
        elif v.printed == "failed":
            reason = self.t(v.print_error) if v.print_error else ""
            self.print_text = "✕ " + self.t("bundle_print_failed") + (
                "\n" + reason if reason else "")
        elif v.printed == "printing":
            self.print_text = "● " + self.t("bundle_printing")
        else:
            self.print_text = ""

    def spoken_text(self) -> str:
        return self.headline

    @safe
    def print_receipt(self) -> None:
        """On paper, in the documents' language: why a matter failed, as said here."""
        v = self.view()
        reasons = {o.matter.id: reason_text(o.reason, o.material, o.matter, "zh_CN")
                   for o in v.outcomes if o.failed and o.reason}
        self.flow.print_receipt(reasons)

    @safe
    def retry(self) -> None:
        self.flow.submit()

    @safe
    def finish(self) -> None:
        self.flow.finish()

    def clear_personal(self) -> None:
        self.headline = self.outcome = self.number = self.printed = self.print_text = ""
        self.print_label = ""
        self.can_retry = self.can_print = False
        discard_children(self.ids.matters)
