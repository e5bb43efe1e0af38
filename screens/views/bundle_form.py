"""The one form of a bundle: the form screen's fields, keypads and input methods over the
bundle flow's fields (each asked, or filled from the card and e-certificates, once)."""

from __future__ import annotations

from typing import Any

from screens.views import load_kv
from screens.views.form import FormScreen

load_kv("form")  # the form screen's layout rules, which this screen reuses


class BundleFormScreen(FormScreen):
    """Values typed here are personal: kept in this screen only until the session ends."""

    voice_key = "bundle_form_voice"

    @property
    def flow(self) -> Any:
        return self.journey.bundles

    def _marker(self) -> tuple[int, str] | None:
        v = self.flow.view()
        if v.bundle is None or not v.fields:
            return None
        return (self.vm.session_no, v.bundle.id)

    def _initial_values(self) -> dict[str, str]:
        return dict(self.flow.form_values())

    def _fields(self) -> list[Any]:
        return list(self.flow.view().fields)

    def _prefilled(self) -> dict[str, Any]:
        v = self.flow.view()
        out: dict[str, Any] = {}
        for p in v.prepared:
            for f in p.prefilled:
                if f.key in v.prefilled:
                    out.setdefault(f.key, f)
        return out

    def _source_text(self, source: Any) -> str:
        if source.kind == "certificate":
            names = [self.label("certtype_" + c.type_code, c.type_name)
                     for c in self.flow.view().certificates
                     if c.type_code == source.certificate_type]
            return self.t("source_certificate", name=names[0] if names else "")
        return super()._source_text(source)

    def _submit(self, values: dict[str, str]) -> dict[str, str]:
        return dict(self.flow.submit_form(values))
