"""告知承诺制: read the commitment text, sign it with a finger, confirm
(:class:`kiosk.session.commitments.CommitmentFlow`). Shown over the certificates screen while
the flow is open (``ViewModel.commitment_step``); also the offer tiles placed on the
certificates screen (:func:`add_offers`).

The signature drawn on the pad is personal data: it leaves the pad only as the PNG handed to
the flow, and the pad is cleared when the flow closes and when the session is wiped.
"""

from __future__ import annotations

from typing import Any

from kivy.properties import StringProperty

from screens.signature import SignaturePad
from screens.viewmodel import safe
from screens.views.base import KioskScreen
from screens.widgets import KButton, KLabel, TapCard

SCREEN = "commitment"
STATES = frozenset({"certificates"})  # where the flow opens (and its screen shows)
__all__ = ["SCREEN", "STATES", "CommitmentScreen", "SignaturePad", "add_offers"]


def add_offers(screen: KioskScreen, box: Any) -> None:
    """The certificates screen's tiles: "sign a commitment instead" for each material a
    commitment may replace, or the signed one with "withdraw"."""
    flow = screen.journey.commitments
    signed = set(flow.signed())
    for material in flow.offered():
        name = screen.text_of(material.name)
        tile = TapCard(name=f"commit_tile:{material.id}", selected=material.id in signed)
        if material.id in signed:
            tile.add_widget(KLabel(text=screen.t("commitment_signed", material=name), base=30,
                                   role="success", bold=True))
            btn = KButton(name=f"withdraw_commitment:{material.id}", base=28,
                          text=screen.t("commitment_withdraw"))
            btn.bind(on_release=lambda *_a, mid=material.id: _withdraw(screen, mid))
        else:
            text = screen.t("commitment_offer", material=name)
            if material.paper_allowed:
                text += "\n" + screen.t("commitment_offer_paper")
            tile.add_widget(KLabel(text="○ " + text, base=30, bold=True))
            btn = KButton(name=f"sign_commitment:{material.id}", kind="primary", base=32,
                          text=screen.t("commitment_sign_instead"))
            btn.bind(on_release=lambda *_a, mid=material.id: screen.journey.commitments
                     .open(mid, screen.vm.lang))
        tile.add_widget(btn)
        box.add_widget(tile)


@safe
def _withdraw(screen: KioskScreen, material_id: str) -> None:
    screen.journey.commitments.withdraw(material_id)
    screen.refresh()


class CommitmentScreen(KioskScreen):
    """Steps ``read`` (the text), ``sign`` (the pad), ``confirm`` (the signature once more)."""

    step = StringProperty("")
    material_name = StringProperty("")
    text = StringProperty("")
    version = StringProperty("")

    @property
    def flow(self) -> Any:
        return self.journey.commitments

    @property
    def pad(self) -> SignaturePad:
        pad: SignaturePad = self.ids.pad
        return pad

    @safe
    def refresh(self) -> None:
        if self.flow.set_language(self.vm.lang):
            return  # the flow tells its new view: refreshed again then
        view = self.flow.view()
        previous, self.step = self.step, view.step.value
        material = view.material
        self.material_name = self.text_of(material.name) if material is not None else ""
        self.text = view.text
        self.version = material.commitment_version or "" if material is not None else ""
        self.pad.editable = self.step == "sign"
        if self.step == "read" or (self.step == "sign" and previous != "sign"
                                   and previous != ""):
            self.pad.clear()  # a new signature (or "sign again")
        if view.error:
            self.vm.show_message(view.error, "error")

    def spoken_text(self) -> str:
        """Elderly mode: the commitment itself is read out, then how to sign."""
        if self.step == "read":
            return f"{self.t('commitment_title')}。{self.text}"
        if self.step == "sign":
            return self.t("commitment_sign_voice")
        if self.step == "confirm":
            return self.t("commitment_confirm_voice")
        return ""

    @safe
    def to_pad(self) -> None:
        self.flow.to_pad()

    @safe
    def done(self) -> None:
        """Check the strokes (plain refusal of an empty or dot-like one), then hand the PNG
        to the flow."""
        refusal = self.pad.check()
        if refusal:
            self.vm.show_message(refusal, "error")
            return
        png = self.pad.export_png()
        self.flow.signature_drawn(png)
        del png

    @safe
    def confirm(self) -> None:
        if self.flow.confirm():
            self.pad.clear()

    @safe
    def cancel(self) -> None:
        self.pad.clear()
        self.flow.close()

    def on_leave(self, *args: Any) -> None:
        super().on_leave(*args)
        self.pad.clear()  # whatever was drawn does not outlive the screen

    def clear_personal(self) -> None:
        self.pad.clear()
        self.text = ""
        self.material_name = ""
        self.step = ""
