"""Consent to use the listed electronic certificates for this matter; for an enterprise
matter, the enterprise is named first (unified social credit code)."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from screens.viewmodel import safe
from screens.views.base import KioskScreen
from screens.widgets import LETTERS, KeyPad, KLabel, apply_key, discard_children


class ConsentScreen(KioskScreen):
    """Agree to the certificates being used, or decline and go back."""

    needs_enterprise = BooleanProperty(False)
    uscc = StringProperty("")
    uscc_error = StringProperty("")
    voice_key = "consent_voice"

    def on_kv_post(self, base_widget: Any) -> None:
        pad: KeyPad = self.ids.keyboard
        pad.cols = 10
        pad.keys = LETTERS
        pad.bind(on_key=lambda _p, key: self.type_key(key))

    @safe
    def refresh(self) -> None:
        d = self.data
        matter = d.matter
        box = self.ids.certs
        discard_children(box)
        self.needs_enterprise = bool(matter is not None and matter.category == "enterprise"
                                     and d.enterprise is None)
        if matter is None:
            return
        if matter.category == "enterprise" and d.enterprise is not None:
            box.add_widget(KLabel(text="✓ " + self.t("enterprise_confirmed",
                                                      name=d.enterprise.name),
                                  base=30, role="success", bold=True))
        used = [m for m in matter.materials if m.certificate_type]
        for material in used:
            box.add_widget(KLabel(text="● " + self.text_of(material.name), base=32))
        if not used:
            box.add_widget(KLabel(text=self.t("consent_no_certificates"), base=30))

    @safe
    def type_key(self, key: str) -> None:
        self.uscc = apply_key(self.uscc, key, 18).replace(" ", "")
        self.uscc_error = ""

    @safe
    def check_enterprise(self) -> None:
        if len(self.uscc) != 18:
            self.uscc_error = self.t("field_invalid_uscc")
            return
        self.journey.identify_enterprise(self.uscc)

    @safe
    def agree(self) -> None:
        if self.needs_enterprise:
            self.vm.show_message("enterprise_required", "error")
            return
        self.journey.give_consent()

    @safe
    def decline(self) -> None:
        self.journey.decline_consent()

    def spoken_text(self) -> str:
        return self.t("enterprise_body") if self.needs_enterprise else super().spoken_text()

    def clear_personal(self) -> None:
        self.uscc = ""
        self.uscc_error = ""
        discard_children(self.ids.certs)
