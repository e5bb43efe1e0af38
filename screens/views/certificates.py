"""The holder's electronic certificates with their validity; tap one to view it."""

from __future__ import annotations

from typing import Any

from kivy.properties import StringProperty

from screens.masking import is_identifier, mask_identifier
from screens.viewmodel import safe
from screens.views.base import KioskScreen
from screens.views.commitment import add_offers
from screens.widgets import KLabel, SecretText, TapCard, discard_children

STATUS_MARK = {"valid": "✓", "expired": "✕", "revoked": "✕"}


class CertificatesScreen(KioskScreen):
    """List, open one (details), continue to the form."""

    open_id = StringProperty("")
    voice_key = "certificates_voice"

    @safe
    def refresh(self) -> None:
        box = self.ids.list
        discard_children(box)  # never added again: unbind their kv rules (ReferenceError)
        certs = list(self.data.certificates)
        prepared = self.data.prepared
        if prepared is not None and prepared.blocking:
            reasons = "；".join(self.t(r.split(":")[0]) for r in prepared.blocking)
            box.add_widget(KLabel(text="✕ " + self.t("matter_blocked") + "\n" + reasons,
                                  base=30, role="danger", bold=True))
        if not certs:
            box.add_widget(KLabel(text=self.t("no_certificates"), base=30, role="muted"))
        add_offers(self, box)  # 告知承诺制: first, a commitment instead of a missing material
        for cert in certs:
            box.add_widget(self._tile(cert))

    def _validity(self, cert: Any) -> str:
        if cert.valid_to is None:
            return self.t("valid_long_term", start=cert.valid_from.isoformat())
        return self.t("valid_until", start=cert.valid_from.isoformat(),
                      end=cert.valid_to.isoformat())

    def _tile(self, cert: Any) -> TapCard:
        opened = cert.identifier == self.open_id
        tile = TapCard(name=f"cert:{cert.type_code}", selected=opened)
        status = cert.status.value
        tile.add_widget(KLabel(text=self.label("certtype_" + cert.type_code, cert.type_name),
                               base=34, bold=True))
        tile.add_widget(KLabel(
            text=f"{STATUS_MARK.get(status, '●')} {self.t('cert_status_' + status)}"
                 f"  ·  {self._validity(cert)}",
            base=26, role="success" if status == "valid" else "danger", bold=True))
        tile.add_widget(KLabel(text=self.t("cert_issuer", issuer=cert.issuer), base=24,
                               role="muted"))
        if opened:
            tile.add_widget(SecretText(value=cert.number, name=f"certno:{cert.type_code}",
                                       template=self.t("cert_number", number="{value}"),
                                       base=28))
            tile.add_widget(KLabel(text=self.t("cert_holder", name=cert.holder_name), base=28))
            tile.add_widget(KLabel(text=self.t("cert_issued", date=cert.issue_date.isoformat()),
                                   base=28))
            for key, value in cert.fields.items():
                label = self.label("certfield_" + key, key)
                if is_identifier(key):
                    tile.add_widget(SecretText(value=str(value), name=f"certfield:{key}",
                                               template=f"{label}：{{value}}", base=26))
                else:
                    tile.add_widget(KLabel(text=f"{label}：{value}", base=26))
            tile.add_widget(KLabel(text=self.t("cert_tap_to_close"), base=22, role="muted"))
        else:
            tile.add_widget(KLabel(text=self.t("cert_number", number=mask_identifier(cert.number)),
                                   base=26))
            tile.add_widget(KLabel(text=self.t("cert_tap_to_open"), base=22, role="primary"))
        tile.bind(on_release=lambda *_a, ident=cert.identifier: self.toggle(ident))
        return tile

    @safe
    def toggle(self, identifier: str) -> None:
        self.open_id = "" if self.open_id == identifier else identifier
        self.refresh()

    @safe
    def proceed(self) -> None:
        self.journey.continue_to_form()

    def clear_personal(self) -> None:
        self.open_id = ""
        discard_children(self.ids.list)
