"""Review a bundle before it is sent: each matter with the fields it gets from the one form
and its materials from e-certificates; those that cannot be sent said in words."""

from __future__ import annotations

from screens.masking import is_identifier
from screens.viewmodel import safe
from screens.views.bundle_base import BundleScreen, reason_text
from screens.widgets import Card, KLabel, SecretText, discard_children


class BundleReviewScreen(BundleScreen):
    """Every application of the bundle as it will be sent; identifiers masked."""

    voice_key = "bundle_review_voice"

    @safe
    def refresh(self) -> None:
        v = self.view()
        box = self.ids.body
        discard_children(box)
        if v.bundle is None:
            return
        values = {**v.prefilled, **v.form}
        head = Card()
        head.add_widget(KLabel(text=self.t("bundle_review_shared"), base=30, bold=True,
                               role="primary"))
        for f in v.fields:
            value = values.get(f.key, "")
            head.add_widget(KLabel(text=self.text_of(f.label), base=24, role="muted"))
            if value and is_identifier(f.key, f.input):
                head.add_widget(SecretText(value=value, name=f.key, base=30))
            else:
                head.add_widget(KLabel(text=value or "—", base=30))
        box.add_widget(head)
        for i, matter in enumerate(v.matters, 1):
            card = Card(name=f"bundle_review:{matter.id}")
            card.add_widget(KLabel(text=f"{i}. {self.text_of(matter.name)}", base=32,
                                   bold=True))
            blocked = v.blocked.get(matter.id)
            if blocked is not None:
                card.add_widget(KLabel(
                    text="✕ " + self.t("bundle_not_sent") + " " + reason_text(
                        blocked.reason, blocked.material, matter, self.vm.lang),
                    base=26, role="danger", bold=True))
                box.add_widget(card)
                continue
            p = v.prepared_for(matter.id)
            attached = {a.material_id: a for a in (p.materials if p else [])}
            for material in matter.materials:
                a = attached.get(material.id)
                if a is not None and a.certificate_identifier:
                    tag, role = "✓ " + self.t("material_attached"), "success"
                else:
                    tag, role = "● " + self.t("material_bring"), "muted"
                card.add_widget(KLabel(text=f"{self.text_of(material.name)}  {tag}", base=24,
                                       role=role))
            box.add_widget(card)

    @safe
    def submit(self) -> None:
        self.flow.submit()

    def clear_personal(self) -> None:
        discard_children(self.ids.body)
