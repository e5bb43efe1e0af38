"""Delivery of the result: print now, mail, electronic copy, or collect at a counter.
When the printer is down the other ways stay open and the session is kept.

Mail: the citizen picks province, city, district and street/town (the kiosk's own district
first), then types only the rest of the address (road, number) on the keyboard, in Chinese
with pinyin or in letters; or types the whole address; or takes the one the form holds."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from screens.address_picker import AddressPicker  # noqa: F401 - a class the .kv uses
from screens.viewmodel import safe
from screens.views.base import KioskScreen
from screens.widgets import KButton, KLabel, apply_key, discard_children

MAX_ADDRESS = 80


class DeliveryScreen(KioskScreen):
    """Choose how to receive the result."""

    address = StringProperty("")  # what is sent: region + detail
    region = StringProperty("")  # the picked divisions (广东省佛山市南海区桂城街道)
    detail = StringProperty("")  # what the citizen typed after them
    mail_open = BooleanProperty(False)
    mail_step = StringProperty("area")  # area: the picker | detail: the keyboard
    voice_key = "delivery_voice"
    poll_every = 1.0  # printing is offered only while the printer can print

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._printer_ok: bool | None = None
        self._path: list[Any] = []

    def on_kv_post(self, base_widget: Any) -> None:
        self.ids.keyboard.bind(on_key=lambda _k, key: self.type_key(key))
        self.ids.picker.bind(on_picked=lambda _p, path: self.picked(path))
        self.bind(region=self._compose, detail=self._compose)

    def _compose(self, *_args: Any) -> None:
        self.address = self.region + self.detail

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
        discard_children(box)
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
        self._show_known()

    def _show_known(self) -> None:
        chooser = self.ids.known
        discard_children(chooser)
        for addr in self._known_addresses():
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
                self.use_address(known[0])
            elif not self.address:
                self.mail_step = "area"
                self.ids.picker.open(self._path)
            self.refresh()
            return
        self.journey.deliver(Delivery(method))

    @safe
    def picked(self, path: list[Any]) -> None:
        """The citizen chose a street or town: its divisions start the address."""
        from kiosk.address import address_line

        had_region = bool(self.region)
        self._path = list(path)
        self.region = address_line(path)
        # what follows a changed area stays; a whole address typed or taken does not
        keep = self.detail if had_region else ""
        self.detail = keep[:max(0, MAX_ADDRESS - len(self.region))]
        self.mail_step = "detail"

    @safe
    def change_area(self) -> None:
        self.ids.keyboard.commit()
        self.mail_step = "area"
        self.ids.picker.open(self._path[:-1])

    @safe
    def type_whole(self) -> None:
        """No picker: the citizen types the whole address."""
        self._path = []
        self.region = ""
        self.mail_step = "detail"

    @safe
    def use_address(self, address: str) -> None:
        self._path = []
        self.region = ""
        self.detail = address
        self.mail_step = "detail"
        self.refresh()

    @safe
    def type_key(self, key: str) -> None:
        self.detail = apply_key(self.detail, key, MAX_ADDRESS - len(self.region))

    @safe
    def send_mail(self) -> None:
        from kiosk.backend.contract import Delivery

        self.ids.keyboard.commit()
        self.journey.deliver(Delivery.MAIL, mail_address=self.address)

    @safe
    def close_mail(self) -> None:
        self.ids.keyboard.commit()
        self.mail_open = False

    def clear_personal(self) -> None:
        self._path = []
        self.region = ""
        self.detail = ""
        self.address = ""
        self.mail_open = False
        self.mail_step = "area"
        self.ids.keyboard.reset()
        self.ids.picker.reset()
        discard_children(self.ids.options)
        discard_children(self.ids.known)
