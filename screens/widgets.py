"""Shared widgets: buttons with large targets, labels that follow the theme, the numeric
keypad and the on-screen keyboard, the input field display. Styles live in theme.kv."""

from __future__ import annotations

from typing import Any

from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label

from screens.masking import mask_identifier


class KLabel(Label):
    """Themed, wrapping label. ``base`` is the font size at standard scale."""

    base = NumericProperty(30)
    role = StringProperty("fg")  # fg | muted | primary | danger | success | on_primary


class KTitle(KLabel):
    pass


class KButton(ButtonBehavior, Label):
    """A large touch target. ``name`` identifies it for tests and the demo driver;
    ``kind`` is primary | secondary | danger | ghost; disabled buttons keep their text and
    show ``reason`` beneath it (never colour alone)."""

    name = StringProperty("")
    kind = StringProperty("secondary")
    base = NumericProperty(32)
    reason = StringProperty("")
    selected = BooleanProperty(False)
    min_h = NumericProperty(104)


class Card(BoxLayout):
    """A surface with a border."""

    name = StringProperty("")


class TapCard(ButtonBehavior, Card):
    """A card that can be tapped (a matter tile, a certificate)."""

    selected = BooleanProperty(False)


class Badge(Label):
    """A small tag (免证办, 秒批): words on a filled shape, never colour alone."""


class RevealButton(KButton):
    """Press and hold to show the masked identifier beside it; it hides again on release
    (also when the finger slides off)."""

    always_release = BooleanProperty(True)


def shown_value(value: str, secret: bool, revealed: bool) -> str:
    """What a field displays: a secret masked, unless its reveal button is held."""
    return mask_identifier(value) if secret and not revealed else value


class SecretText(BoxLayout):
    """A personal identifier on a public screen: masked by the one display rule
    (``screens.masking``), whole only while its reveal button is held. ``template`` places
    it in a sentence (``"No.: {value}"``); the reveal button is named ``reveal:<name>``."""

    name = StringProperty("")
    value = StringProperty("")
    template = StringProperty("{value}")
    base = NumericProperty(30)
    bold = BooleanProperty(False)
    revealed = BooleanProperty(False)
    shown = StringProperty("")
    display = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(value=self._update_shown, revealed=self._update_shown,
                  shown=self._update_display, template=self._update_display)
        self._update_shown()
        self._update_display()

    def _update_shown(self, *_args: Any) -> None:
        self.shown = shown_value(self.value, True, self.revealed)

    def _update_display(self, *_args: Any) -> None:
        # a space before the number, so a narrow line breaks there, not inside the number
        template = self.template.replace("：{value}", "： {value}")
        self.display = template.replace("{value}", self.shown)


class FieldDisplay(ButtonBehavior, BoxLayout):
    """One form field: label, value (typed on the kiosk's own keypads), where a pre-filled
    value came from, and the inline error. A ``secret`` value (an identifier) is shown
    masked, with a press-and-hold reveal button where the citizen must check it
    (``can_reveal``)."""

    name = StringProperty("")
    label = StringProperty("")
    value = StringProperty("")
    source = StringProperty("")
    error = StringProperty("")
    hint = StringProperty("")
    readonly = BooleanProperty(False)
    focused = BooleanProperty(False)
    secret = BooleanProperty(False)
    can_reveal = BooleanProperty(True)
    revealed = BooleanProperty(False)
    shown = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        self._reveal: RevealButton | None = None
        super().__init__(**kwargs)
        self.bind(value=self._update_shown, secret=self._update_shown,
                  revealed=self._update_shown, can_reveal=self._update_shown)
        self._update_shown()

    def _update_shown(self, *_args: Any) -> None:
        self.shown = shown_value(self.value, self.secret, self.revealed)
        wanted = self.secret and self.can_reveal and bool(self.value)
        row = self.ids.get("value_row")
        if row is None or wanted == (self._reveal is not None):
            return
        if wanted:
            self._reveal = RevealButton(name="reveal:" + self.name.partition(":")[2])
            self._reveal.bind(state=lambda _b, state: setattr(self, "revealed", state == "down"))
            row.add_widget(self._reveal)
        else:
            assert self._reveal is not None
            row.remove_widget(self._reveal)
            self._reveal = None
            self.revealed = False


class KeyPad(GridLayout):
    """Keys that emit ``on_key(char)``; special keys are ``<bs>``, ``<clear>``, ``<ok>``."""

    keys = ListProperty([])
    __events__ = ("on_key",)

    def on_keys(self, _inst: Any, keys: list[str]) -> None:
        self.clear_widgets()
        for key in keys:
            btn = KButton(text=_KEY_LABEL.get(key, key), name=f"key:{key}", min_h=92,
                          base=34 if len(key) == 1 else 26)
            btn.bind(on_release=lambda b, k=key: self.dispatch("on_key", k))
            self.add_widget(btn)

    def on_key(self, key: str) -> None:
        pass


_KEY_LABEL = {"<bs>": "←", "<clear>": "✕", "<ok>": "OK", "<space>": "└─┘"}

DIGITS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "<clear>", "0", "<bs>"]
ID_DIGITS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "X", "0", "<bs>"]
PHONE_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "-", "0", "<bs>"]
DATE_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "-", "0", "<bs>"]
LETTERS = list("1234567890QWERTYUIOPASDFGHJKLZXCVBNM") + ["-", "<space>", "<bs>", "<clear>"]


def apply_key(value: str, key: str, max_len: int = 120) -> str:
    """The new value after pressing ``key`` on a keypad."""
    if key == "<bs>":
        return value[:-1]
    if key == "<clear>":
        return ""
    if key == "<space>":
        key = " "
    if key.startswith("<"):
        return value
    if len(value) >= max_len:
        return value
    return value + key


class Collapsible(BoxLayout):
    """A vertical box whose children leave the widget tree while it is hidden, so hidden
    keypads never swallow touches meant for what is drawn in their place."""

    shown = BooleanProperty(True)

    def __init__(self, **kwargs: Any) -> None:
        self._stash: list[Any] = []
        super().__init__(**kwargs)

    def add_widget(self, widget: Any, *args: Any, **kwargs: Any) -> None:
        if not self.shown:
            self._stash.insert(0, widget)
            return
        super().add_widget(widget, *args, **kwargs)

    def on_shown(self, _inst: Any, shown: bool) -> None:
        if shown:
            stash, self._stash = self._stash, []
            for widget in reversed(stash):
                super().add_widget(widget)
        else:
            self._stash = list(self.children) + self._stash
            self.clear_widgets()
