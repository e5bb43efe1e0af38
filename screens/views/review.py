"""Review what will be submitted, then submit (once, however often it is tapped)."""

from __future__ import annotations

from screens.masking import is_identifier
from screens.viewmodel import safe
from screens.views.base import KioskScreen
from screens.widgets import Card, KLabel, SecretText, discard_children


class ReviewScreen(KioskScreen):
    """The application as it will be sent; identifiers masked, shown whole while held."""

    voice_key = "review_voice"

    @safe
    def refresh(self) -> None:
        d = self.data
        box = self.ids.body
        discard_children(box)
        matter = d.matter
        if matter is None:
            return
        head = Card()
        head.add_widget(KLabel(text=self.t("review_matter"), base=26, role="muted"))
        head.add_widget(KLabel(text=self.text_of(matter.name), base=34, bold=True))
        applicant = d.applicant
        if applicant is not None:
            head.add_widget(KLabel(text=self.t("review_applicant"), base=26, role="muted"))
            head.add_widget(KLabel(text=applicant.name, base=32))
        box.add_widget(head)
        form = Card()
        form.add_widget(KLabel(text=self.t("review_form"), base=30, bold=True, role="primary"))
        for f in matter.fields:
            value = d.form.get(f.key, "")
            form.add_widget(KLabel(text=self.text_of(f.label), base=24, role="muted"))
            if value and is_identifier(f.key, f.input):
                # the citizen checks the whole number here, while holding "show"
                form.add_widget(SecretText(value=value, name=f.key, base=30))
            else:
                form.add_widget(KLabel(text=value or "—", base=30))
        box.add_widget(form)
        mats = Card()
        mats.add_widget(KLabel(text=self.t("review_materials"), base=30, bold=True,
                               role="primary"))
        attached = {m.material_id: m for m in (d.prepared.materials if d.prepared else [])}
        for material in matter.materials:
            a = attached.get(material.id)
            if a is not None and a.certificate_identifier:
                tag = "✓ " + self.t("material_attached")
            elif a is not None and a.waived:
                tag = "✓ " + self.t("material_waived")
            elif material.id in d.commitments:  # 告知承诺制: replaced by the signed commitment
                tag = "✓ " + self.t("material_committed")
            else:
                tag = "● " + self.t("material_bring")
            mats.add_widget(KLabel(text=self.text_of(material.name), base=28))
            mats.add_widget(KLabel(text=tag, base=24, role="success" if "✓" in tag else "muted"))
        box.add_widget(mats)

    @safe
    def submit(self) -> None:
        self.journey.submit()

    def clear_personal(self) -> None:
        discard_children(self.ids.body)
