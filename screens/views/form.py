"""The application form: pre-filled fields marked with their source, choices where
possible, the kiosk's own keypads for the rest, inline validation. Text is typed on the
keyboard with Chinese (pinyin) input; an address field first offers the address picker
(province, city, district, street/town), so only the last line is typed."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from screens.address_picker import AddressPicker  # noqa: F401 - a class the .kv uses
from screens.masking import is_identifier
from screens.viewmodel import safe
from screens.views.base import KioskScreen
from screens.widgets import (
    DATE_KEYS,
    DIGITS,
    PHONE_KEYS,
    FieldDisplay,
    KButton,
    KeyPad,
    KLabel,
    apply_key,
    discard_children,
)

KEYS_FOR_INPUT = {"digits": DIGITS, "phone": PHONE_KEYS, "date": DATE_KEYS}
HINT_FOR_INPUT = {"digits": "hint_digits", "phone": "hint_phone", "date": "hint_date",
                  "choice": "hint_choice", "address": "hint_text", "text": "hint_text"}


class FormScreen(KioskScreen):
    """Values typed here are personal: kept in this screen only until the session ends."""

    focus_key = StringProperty("")
    pad_kind = StringProperty("")  # keypad (digits) | picker (address) | ime (text)
    focus_address = BooleanProperty(False)
    # elderly mode: the keyboard leaves no room for the list, so the field being typed is
    # shown alone above it until Done
    editing_alone = BooleanProperty(False)
    voice_key = "form_voice"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.values: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self._loaded_for: tuple[int, str] | None = None
        self._displays: dict[str, FieldDisplay] = {}
        # address fields: the picked divisions (the start of the value) and their path
        self.regions: dict[str, str] = {}
        self._paths: dict[str, list[Any]] = {}

    def on_kv_post(self, base_widget: Any) -> None:
        pad: KeyPad = self.ids.keypad
        pad.bind(on_key=lambda _p, key: self.type_key(key))
        self.ids.ime.bind(on_key=lambda _k, key: self.type_key(key))
        self.ids.picker.bind(on_picked=lambda _p, path: self.picked(path))

    def _fields(self) -> list[Any]:
        matter = self.data.matter
        return list(matter.fields) if matter is not None else []

    def _prefilled(self) -> dict[str, Any]:
        prepared = self.data.prepared
        return {p.key: p for p in prepared.prefilled} if prepared is not None else {}

    def _marker(self) -> tuple[int, str] | None:
        """What the form is for (None: nothing to fill); a new one starts afresh."""
        matter = self.data.matter
        return (self.vm.session_no, matter.id) if matter is not None else None

    def _initial_values(self) -> dict[str, str]:
        return dict(self.journey.form_values())

    @safe
    def refresh(self) -> None:
        marker = self._marker()
        if marker is None:
            return
        if marker != self._loaded_for:
            self._loaded_for = marker
            self.values = self._initial_values()
            self.errors = {}
            self.regions, self._paths = {}, {}
            self.ids.ime.reset()
            self.focus_key = ""
        prefilled = self._prefilled()
        box = self.ids.fields
        discard_children(box)
        self._displays = {}
        for f in self._fields():
            pre = prefilled.get(f.key)
            readonly = pre is not None and bool(pre.value)
            disp = FieldDisplay(
                name=f"field:{f.key}", label=self.text_of(f.label) + (
                    "" if f.required else f"（{self.t('optional')}）"),
                value=self.values.get(f.key, ""), readonly=readonly,
                source=("✓ " + self._source_text(pre.source)) if readonly else "",
                hint=self.t(HINT_FOR_INPUT.get(f.input, "hint_text")),
                error=self.t(self.errors[f.key]) if f.key in self.errors else "",
                focused=f.key == self.focus_key,
                # identifiers masked; typed ones can be checked with a hold (the card's are
                # checked on the review screen)
                secret=is_identifier(f.key, f.input), can_reveal=not readonly)
            if not readonly and f.input != "choice":
                disp.bind(on_release=lambda _d, k=f.key: self.focus(k))
            box.add_widget(disp)
            self._displays[f.key] = disp
            if f.input == "choice" and not readonly:
                box.add_widget(self._choices(f))
        if not self._fields():
            box.add_widget(KLabel(text=self.t("form_nothing_to_fill"), base=30))
        self._update_keypad()

    def _choices(self, f: Any) -> Any:
        from kivy.uix.gridlayout import GridLayout

        grid = GridLayout(cols=2, spacing=self.vm.u * 12, size_hint_y=None)
        grid.bind(minimum_height=grid.setter("height"))
        for choice in f.choices:
            btn = KButton(text=choice, name=f"choice:{f.key}:{choice}", base=30,
                          selected=self.values.get(f.key) == choice)
            if btn.selected:
                btn.text = "✓ " + choice
            btn.bind(on_release=lambda _b, k=f.key, c=choice: self.choose(k, c))
            grid.add_widget(btn)
        return grid

    def _source_text(self, source: Any) -> str:
        if source.kind == "card":
            return self.t("source_card")
        if source.kind == "holder":
            return self.t("source_holder")
        if source.kind == "certificate":
            names = [self.label("certtype_" + c.type_code, c.type_name)
                     for c in self.data.certificates if c.type_code == source.certificate_type]
            return self.t("source_certificate", name=names[0] if names else "")
        return self.t("source_citizen")

    def _field(self, key: str) -> Any:
        return next((f for f in self._fields() if f.key == key), None)

    def _update_keypad(self) -> None:
        pad: KeyPad = self.ids.keypad
        f = self._field(self.focus_key)
        self.focus_address = f is not None and f.input == "address"
        self.editing_alone = f is not None and bool(self.vm.elderly)
        self._mirror()
        if f is None:
            self.pad_kind = ""
            return
        keys = KEYS_FOR_INPUT.get(f.input)
        if keys is not None:
            self.pad_kind = "keypad"
            pad.cols = 3
            if pad.keys != keys:
                pad.keys = keys
        elif self.focus_address and self.pad_kind != "ime" and not self.values.get(f.key):
            self.pad_kind = "picker"
            self.ids.picker.open(self._paths.get(f.key, [])[:-1])
        else:
            self.pad_kind = "ime"

    @safe
    def focus(self, key: str) -> None:
        if key != self.focus_key:
            self.ids.ime.commit()  # pending letters stay in the field they were typed for
            self.pad_kind = ""
        self.focus_key = key
        for k, disp in self._displays.items():
            disp.focused = k == key
        self._update_keypad()

    @safe
    def picked(self, path: list[Any]) -> None:
        """An address field's divisions were picked: they start its value."""
        from kiosk.address import address_line

        key = self.focus_key
        if not key:
            return
        old = self.regions.get(key, "")
        value = self.values.get(key, "")
        detail = value[len(old):] if old and value.startswith(old) else ""
        self.regions[key] = address_line(path)
        self._paths[key] = list(path)
        self.pad_kind = "ime"
        self._set_value(key, (self.regions[key] + detail)[:60])

    @safe
    def change_area(self) -> None:
        self.ids.ime.commit()
        self.pad_kind = "picker"
        self.ids.picker.open(self._paths.get(self.focus_key, [])[:-1])

    @safe
    def type_whole(self) -> None:
        """No picker for this field: the citizen types the whole address."""
        self.regions.pop(self.focus_key, None)
        self._paths.pop(self.focus_key, None)
        self.pad_kind = "ime"

    def _set_value(self, key: str, value: str) -> None:
        self.values[key] = value
        self.errors.pop(key, None)
        disp = self._displays.get(key)
        if disp is not None:
            disp.value = value
            disp.error = ""
        self._mirror()

    def _mirror(self) -> None:
        """The field being typed, shown alone above the keyboard (``editing_alone``)."""
        mirror = self.ids.editing
        disp = self._displays.get(self.focus_key) if self.editing_alone else None
        if disp is None:
            mirror.name, mirror.value, mirror.label, mirror.error = "editing", "", "", ""
            return
        mirror.name = f"editing:{self.focus_key}"
        mirror.secret, mirror.can_reveal = disp.secret, disp.can_reveal
        mirror.label, mirror.hint, mirror.error = disp.label, disp.hint, disp.error
        mirror.value = self.values.get(self.focus_key, "")

    @safe
    def choose(self, key: str, choice: str) -> None:
        self.values[key] = choice
        self.errors.pop(key, None)
        self.refresh()

    @safe
    def type_key(self, key: str) -> None:
        if not self.focus_key:
            return
        if key == "<ok>":
            self.focus("")
            return
        value = self.values.get(self.focus_key, "")
        region = self.regions.get(self.focus_key, "")
        if region and value.startswith(region):  # keys edit what follows the divisions
            value = region + apply_key(value[len(region):], key, 60 - len(region))
        else:
            value = apply_key(value, key, 60)
        self._set_value(self.focus_key, value)

    def _submit(self, values: dict[str, str]) -> dict[str, str]:
        return dict(self.journey.submit_form(values))

    @safe
    def next_step(self) -> None:
        self.ids.ime.commit()
        errors = self._submit(dict(self.values))
        self.errors = dict(errors)
        if errors:
            first = next(iter(errors))
            field = self._field(first)
            self.focus_key = first if field is not None and field.input != "choice" else ""
            self.refresh()
            self.vm.show_message("form_has_errors", "error")

    def clear_personal(self) -> None:
        self.values = {}
        self.errors = {}
        self.focus_key = ""
        self.pad_kind = ""
        self.editing_alone = False
        self.regions, self._paths = {}, {}
        self._loaded_for = None
        self._displays = {}
        self.ids.ime.reset()
        self.ids.picker.reset()
        self._mirror()
        discard_children(self.ids.fields)
