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


def discard_children(container: Any) -> None:
    """Remove ``container``'s children for good: their kv rules' bindings to the app's
    view-model are undone first, so a palette or language change after they were collected
    never calls into a dead widget (Kivy raises ReferenceError there). Only for children
    that are never added again."""
    from kivy.lang import Builder

    for child in list(container.children):
        for widget in child.walk(restrict=True):
            Builder.unbind_widget(widget.uid)
    container.clear_widgets()

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
        discard_children(self)
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


# -- the keyboard with Chinese (pinyin) input -----------------------------------------------
IME_ROWS = [list("1234567890"), list("QWERTYUIOP"), list("ASDFGHJKL") + ["'"],
            list("ZXCVBNM") + ["-", "<bs>", "<clear>"]]
IME_LAST_ROW = [("<lang>", 3), ("<space>", 7)]
_IME_LABEL = {"<lang>": {"zh": "中 ⇄ EN", "en": "EN ⇄ 中"}}
MAX_PAGE = 8  # candidates a page may show


class ImeKeyboard(BoxLayout):
    """The on-screen keyboard with Chinese input: a candidate bar (the pinyin being typed,
    candidate words by frequency, ◀ ▶ pages), digit and letter keys, and the 中/EN key.
    Emits ``on_key(key)`` like :class:`KeyPad`; a chosen word arrives as one key
    (``"南海"``). Candidates are simplified, traditional for ``lang`` zh_HK. The engine is
    built once on a worker (``kiosk.ime.shared``); until it is ready letters wait."""

    __events__ = ("on_key",)
    lang = StringProperty("zh_CN")
    district = StringProperty("")
    mode = StringProperty("zh")
    preedit = StringProperty("")
    page_size = NumericProperty(5)

    def __init__(self, **kwargs: Any) -> None:
        from kiosk.ime.composer import Composer

        self.orientation = "vertical"
        self._keys: dict[str, KButton] = {}
        self._pool: list[KButton] = []  # candidate buttons, made once
        self._arrows: list[KButton] = []
        self._poll: Any = None
        self._user_mode = False
        super().__init__(**kwargs)
        self.composer = Composer(self._engine, lang=self.lang,
                                 page_size=max(1, min(MAX_PAGE, int(self.page_size))))
        self._build()
        self._default_mode()
        self._sync()

    # -- the engine -------------------------------------------------------------------------
    def _warm(self) -> Any:
        from kiosk.ime.shared import pinyin_engine

        return pinyin_engine(self.district)

    def _engine(self) -> Any:
        return self._warm().get()

    def on_district(self, *_args: Any) -> None:
        self._warm().start()

    def on_lang(self, *_args: Any) -> None:
        if hasattr(self, "composer"):
            self.composer.set_lang(self.lang)
            self._emit([] if self._user_mode else self._default_mode())

    def on_page_size(self, *_args: Any) -> None:
        if hasattr(self, "composer"):
            self.composer.page_size = max(1, min(MAX_PAGE, int(self.page_size)))
            self.composer.refresh()
            self._sync()

    def _default_mode(self) -> list[str]:
        """Chinese input for the Chinese languages, letters for English; returns the
        letters that were pending (they go into the field as typed)."""
        want = "en" if self.lang == "en" else "zh"
        out = self.composer.toggle() if self.composer.mode != want else []
        self.mode = self.composer.mode
        return out

    # -- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        from kivy.uix.boxlayout import BoxLayout as Box

        self.size_hint_y = None
        self.bind(minimum_height=self.setter("height"))
        self.bar_text = KLabel(base=28, role="primary", bold=True)
        self.add_widget(self.bar_text)
        # as tall as a key even when empty: the keyboard does not jump when typing starts
        self.cands = Box(size_hint_y=None, spacing=6)
        self.add_widget(self.cands)
        for row in [*[[(k, 1) for k in r] for r in IME_ROWS], IME_LAST_ROW]:
            line = Box(size_hint_y=None, spacing=6)
            line.bind(minimum_height=line.setter("height"))
            for key, weight in row:
                btn = KButton(name=f"key:{key}", min_h=88, size_hint_x=weight,
                              base=34 if len(key) == 1 else 26)
                btn.bind(on_release=lambda _b, k=key: self.press(k))
                line.add_widget(btn)
                self._keys[key] = btn
            self.add_widget(line)
        probe = self._keys["Q"]
        self.cands.height = probe.height
        probe.bind(height=self.cands.setter("height"))

    def _sync(self) -> None:
        """Draw the composer's state: key labels, the bar, the candidates of the page."""
        from kivy.clock import Clock

        from screens.i18n import tr

        c = self.composer
        self.mode = c.mode
        for key, btn in self._keys.items():
            if key in _IME_LABEL:
                btn.text = _IME_LABEL[key][c.mode]
            elif len(key) == 1 and key.isalpha():
                btn.text = key.lower() if c.mode == "zh" else key
            else:
                btn.text = _KEY_LABEL.get(key, key)
        failed = self._warm().failed
        self.preedit = c.preedit
        if c.composing and c.waiting:
            self.bar_text.text = f"{c.preedit}   {tr('ime_preparing', self.lang)}"
        elif c.composing:
            self.bar_text.text = c.preedit
        elif failed and c.mode == "zh":
            self.bar_text.text = tr("ime_unavailable", self.lang)
        else:
            self.bar_text.text = tr("ime_hint_zh" if c.mode == "zh" else "ime_hint_en",
                                    self.lang)
        discard_children(self.cands)
        if c.composing:
            self._add_candidates()
        if c.waiting and not failed and self._poll is None:
            self._poll = Clock.schedule_interval(self._check_ready, 0.25)
        elif (not c.waiting or failed) and self._poll is not None:
            self._poll.cancel()
            self._poll = None

    def _add_candidates(self) -> None:
        """The page's candidates on buttons made once (a keystroke only relabels them)."""
        c = self.composer
        if not self._pool:
            for i in range(MAX_PAGE):
                btn = KButton(min_h=88, base=34)
                btn.bind(on_release=lambda _b, n=i: self.choose(n))
                self._pool.append(btn)
            for name, text, step in (("cand_prev", "◀", -1), ("cand_next", "▶", 1)):
                arrow = KButton(name=name, text=text, min_h=88, size_hint_x=None, base=30)
                arrow.width = arrow.height * 1.2
                arrow.bind(height=lambda b, h: setattr(b, "width", h * 1.2),
                           on_release=lambda _b, n=step: self.page(n))
                self._arrows.append(arrow)
        for i, word in enumerate(c.page_words[:MAX_PAGE]):
            btn = self._pool[i]
            btn.name, btn.text, btn.size_hint_x = f"cand:{word}", word, len(word) + 1.5
            btn.kind = "primary" if i == 0 else "secondary"
            self.cands.add_widget(btn)
        prev, nxt = self._arrows
        prev.disabled, nxt.disabled = not c.has_prev, not c.has_next
        self.cands.add_widget(prev)
        self.cands.add_widget(nxt)

    def _check_ready(self, _dt: float) -> None:
        if self.composer.refresh() or not self.composer.waiting or self._warm().failed:
            self._sync()

    # -- what the citizen does --------------------------------------------------------------
    def press(self, key: str) -> None:
        if key == "<lang>":
            self._user_mode = True
        out: list[str] = []
        if self._warm().failed and self.composer.mode == "zh" and key != "<lang>":
            out = self.composer.toggle()  # no Chinese input to be had: letters as they are
        self._emit(out + self.composer.press(key))

    def choose(self, index: int) -> None:
        self._emit(self.composer.choose(index))

    def page(self, step: int) -> None:
        if step > 0:
            self.composer.next_page()
        else:
            self.composer.prev_page()
        self._sync()

    def commit(self) -> None:
        """Put pending letters into the field as they are (focus leaves, Done, send)."""
        self._emit(self.composer.flush())

    def reset(self) -> None:
        """Drop pending letters and every trace of what was typed (the session ends)."""
        self.composer.reset()
        self._user_mode = False
        engine = self._engine()
        if engine is not None:
            engine.forget()
        self._default_mode()
        self._sync()

    def _emit(self, keys: list[str]) -> None:
        self._sync()
        for key in keys:
            self.dispatch("on_key", key)

    def on_key(self, key: str) -> None:
        pass


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
