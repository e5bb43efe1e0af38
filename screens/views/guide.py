"""Matter guide: conditions, materials (免提交 where a certificate covers them), time limit,
fee and delivery options."""

from __future__ import annotations

from typing import Any

from kivy.properties import StringProperty

from screens.viewmodel import safe
from screens.views.base import KioskScreen
from screens.widgets import Card, KLabel, discard_children


class GuideScreen(KioskScreen):
    """What the matter needs, before the citizen begins."""

    title = StringProperty("")
    voice_key = "guide_voice"

    @safe
    def refresh(self) -> None:
        box = self.ids.body
        discard_children(box)
        matter = self.data.matter
        if matter is None:
            self.title = ""
            return
        self.title = self.text_of(matter.name)
        self._section(box, "guide_department", self.text_of(matter.department))
        self._section(box, "guide_conditions", self.text_of(matter.conditions))
        card = Card()
        card.add_widget(KLabel(text=self.t("guide_materials"), base=30, bold=True,
                               role="primary"))
        for material in matter.materials:
            if material.certificate_type:
                tag = "✓ " + self.t("material_waived")
            elif material.paper_only:
                tag = "● " + self.t("material_paper")
            else:
                tag = "● " + self.t("material_bring")
            optional = "" if material.required else f"（{self.t('optional')}）"
            card.add_widget(KLabel(text=f"{self.text_of(material.name)}{optional}", base=30))
            card.add_widget(KLabel(text=tag, base=24,
                                   role="success" if material.certificate_type else "muted"))
        box.add_widget(card)
        days = matter.time_limit_days
        limit = self.t("time_instant") if days == 0 else self.t("time_days", days=days)
        if matter.approval.value == "instant":
            limit = f"{limit}（{self.t('badge_instant')}）"
        self._section(box, "guide_time_limit", limit)
        self._section(box, "guide_fee", self.text_of(matter.fee))
        self._section(box, "guide_delivery",
                      "、".join(self.t(f"delivery_{d.value}") for d in matter.delivery))
        if matter.needs_original:
            self._section(box, "guide_note", self.t("needs_original"))
        if matter.category == "enterprise":
            self._section(box, "guide_note", self.t("enterprise_note"))

    def _section(self, box: Any, key: str, text: str) -> None:
        card = Card()
        card.add_widget(KLabel(text=self.t(key), base=30, bold=True, role="primary"))
        card.add_widget(KLabel(text=text, base=30))
        box.add_widget(card)

    @safe
    def begin(self) -> None:
        self.journey.begin()

    def clear_personal(self) -> None:
        self.title = ""
        discard_children(self.ids.body)
