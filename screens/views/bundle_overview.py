"""A bundle's overview (一件事一次办): its matters as a numbered list with what each gives,
those that cannot be done here said in words; "start" fetches the e-certificates."""

from __future__ import annotations

from kivy.properties import StringProperty

from screens.viewmodel import safe
from screens.views.bundle_base import BundleScreen, reason_text
from screens.widgets import Card, KLabel, discard_children


class BundleOverviewScreen(BundleScreen):
    """The steps of the chosen bundle, then the consent to fetch certificates."""

    title = StringProperty("")
    summary = StringProperty("")
    voice_key = "bundle_overview_voice"

    @safe
    def refresh(self) -> None:
        v = self.view()
        box = self.ids.steps
        discard_children(box)
        if v.bundle is None:
            self.title = self.summary = ""
            return
        self.title = self.text_of(v.bundle.name)
        self.summary = self.text_of(v.bundle.summary)
        notes = {s.matter_id: s.note for s in v.bundle.steps}
        for i, matter in enumerate(v.matters, 1):
            card = Card(name=f"bundle_step:{matter.id}")
            card.add_widget(KLabel(text=f"{i}. {self.text_of(matter.name)}", base=32,
                                   bold=True))
            note = notes.get(matter.id)
            if note:
                card.add_widget(KLabel(text=self.text_of(note), base=24, role="muted"))
            blocked = v.blocked.get(matter.id)
            if blocked is not None:
                card.add_widget(KLabel(
                    text="✕ " + reason_text(blocked.reason, blocked.material, matter,
                                            self.vm.lang), base=26, role="danger", bold=True))
            box.add_widget(card)

    @safe
    def start(self) -> None:
        self.flow.start()

    def clear_personal(self) -> None:
        discard_children(self.ids.steps)
