"""Delivery of the result: print now, mail, electronic copy, or collect at a counter.
When the printer is down the other ways stay open and the session is kept."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from screens.viewmodel import safe
from screens.views.base import KioskScreen
from screens.widgets import KButton, KLabel, apply_key


class DeliveryScreen(KioskScreen):
    """Choose how to receive the result."""

    address = StringProperty("")
    mail_open = BooleanProperty(False)
    voice_key = "delivery_voice"
    poll_every = 1.0  # printing is offered only while the printer can print

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._printer_ok: bool | None = None

    def on_kv_post(self, base_widget: Any) -> None:
        self.attach_letter_keyboard(self.type_key)

    def printer_ok(self) -> bool:
        slot = self.vm.core.devices.get("printer")
        return bool(slot is not None and slot.usable)

    def poll(self, _dt: float) -> None:
        if self.printer_ok() != self._printer_ok:
            self.refresh()

    @safe
    def refresh(self) -> None:
        d = self.data
        box = self.ids.options
        box.clear_widgets()
        self._printer_ok = self.printer_ok()
        matter = d.matter
        if matter is None:
            return
        for method in matter.delivery:
            value = method.value
            btn = KButton(name=f"deliver:{value}", base=36, min_h=130,
                          kind="primary" if value == "print" and self._printer_ok else
                          "secondary",
                          text=self.t(f"deliver_{value}"))
            if value == "print" and not self._printer_ok:
                btn.disabled = True
                btn.text = self.t("deliver_print") + "\n✕ " + self.t("printer_down_short")
            btn.bind(on_release=lambda _b, m=value: self.choose(m))
            box.add_widget(btn)
            box.add_widget(KLabel(text=self.t(f"deliver_{value}_hint"), base=24, role="muted"))
        if "print" in [m.value for m in matter.delivery] and not self._printer_ok:
            box.add_widget(KLabel(text="● " + self.t("printer_down_alternatives"), base=28,
                                  role="danger", bold=True))
        known = self._known_addresses()
        chooser = self.ids.known
        chooser.clear_widgets()
        for addr in known:
            btn = KButton(text=addr, name="address:known", base=26,
                          selected=addr == self.address)
            btn.bind(on_release=lambda _b, a=addr: self.use_address(a))
            chooser.add_widget(btn)

    def _known_addresses(self) -> list[str]:
        d = self.data
        if d.matter is None:
            return []
        keys = {f.key for f in d.matter.fields if f.input == "address"}
        return [v for k, v in d.form.items() if k in keys and v]

    @safe
    def choose(self, method: str) -> None:
        from kiosk.backend.contract import Delivery

        if method == "mail":
            self.mail_open = True
            known = self._known_addresses()
            if known and not self.address:
                self.address = known[0]
            self.refresh()
            return
        self.journey.deliver(Delivery(method))

    @safe
    def use_address(self, address: str) -> None:
        self.address = address
        self.refresh()

    @safe
    def type_key(self, key: str) -> None:
        self.address = apply_key(self.address, key, 80)

    @safe
    def send_mail(self) -> None:
        from kiosk.backend.contract import Delivery

        self.journey.deliver(Delivery.MAIL, mail_address=self.address)

    def clear_personal(self) -> None:
        self.address = ""
        self.mail_open = False
        self.ids.options.clear_widgets()
        self.ids.known.clear_widgets()
