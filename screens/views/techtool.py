"""What the technician's screens share: a dark, dense palette (a tool, not a citizen's
screen), small widgets (TLabel, TButton, TPanel, TChip), the style file ``techtool.kv``
loaded once on first use, and :class:`TechScreen`, whose results from
:class:`~kiosk.diag.maintenance.Maintenance` (futures, on workers) come back on the UI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from kivy.clock import Clock
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label

from screens.views.base import KioskScreen
from screens.widgets import discard_children

log = logging.getLogger("screens.techtool")

T = TypeVar("T")
STYLE_FILE = Path(__file__).resolve().parent / "techtool.kv"
_loaded = False


def _rgb(value: str) -> list[float]:
    return [int(value[i:i + 2], 16) / 255 for i in (1, 3, 5)] + [1.0]


# colours by role: states are also said in words (never colour alone)
TECH = {
    "bg": _rgb("#0f151c"), "bar": _rgb("#17202a"), "panel": _rgb("#1b2530"),
    "panel2": _rgb("#233040"), "fg": _rgb("#e6edf3"), "muted": _rgb("#93a1ae"),
    "accent": _rgb("#58a6ff"), "ok": _rgb("#3fb950"), "warn": _rgb("#d29922"),
    "bad": _rgb("#f85149"), "border": _rgb("#334252"), "on_accent": _rgb("#0b1016"),
}
STATE_ROLE = {"ready": "ok", "in_service": "ok", "online": "ok", "ok": "ok", "yes": "ok",
              "degraded": "warn", "busy": "warn", "user_error": "warn", "running": "accent",
              "ask": "accent", "out_of_service": "bad", "offline": "bad", "no_device": "bad",
              "hardware_error": "bad", "fail": "bad", "maintenance": "accent"}


def role_of(state: str) -> str:
    return STATE_ROLE.get(state, "muted")


def load_styles() -> None:
    """Load ``techtool.kv`` (once: before the first technician screen is built)."""
    global _loaded
    if not _loaded:
        from kivy.lang import Builder

        Builder.load_file(str(STYLE_FILE))
        _loaded = True


class TLabel(Label):
    """A technician label: ``base`` font size (at 1080 px width), ``role`` its colour."""

    base = NumericProperty(24)
    role = StringProperty("fg")


class TButton(ButtonBehavior, Label):
    """A technician button: ``name`` for tests; ``kind`` primary | secondary | danger."""

    name = StringProperty("")
    kind = StringProperty("secondary")
    base = NumericProperty(24)
    min_h = NumericProperty(76)
    selected = BooleanProperty(False)


class TChip(Label):
    """A state in words on a coloured shape (``state`` picks the colour)."""

    state = StringProperty("")
    base = NumericProperty(22)


class TKeyPad(GridLayout):
    """The technician's keypad: ``on_key(char)``; keys named ``key:<char>`` (``<bs>``,
    ``<clear>``) like the citizen keypads, so the UI driver types on both alike."""

    keys = ListProperty([])
    __events__ = ("on_key",)
    _LABEL = {"<bs>": "←", "<clear>": "✕"}

    def on_keys(self, _inst: Any, keys: list[str]) -> None:
        discard_children(self)
        for key in keys:
            btn = TButton(text=self._LABEL.get(key, key), name=f"key:{key}", min_h=112,
                          base=36)
            btn.bind(on_release=lambda _b, k=key: self.dispatch("on_key", k))
            self.add_widget(btn)

    def on_key(self, key: str) -> None:
        pass


class TPanel(BoxLayout):
    """A titled block of the maintenance screen."""

    title = StringProperty("")
    name = StringProperty("")


class TechScreen(KioskScreen):
    """Base of the technician's screens."""

    def __init__(self, **kwargs: Any) -> None:
        load_styles()
        super().__init__(**kwargs)

    @property
    def maint(self) -> Any:
        from kivy.app import App

        return App.get_running_app().diag.maintenance

    def later(self, future: Future[T], done: Callable[[T | None, BaseException | None], None]
              ) -> None:
        """Call ``done(value, error)`` on the UI thread when ``future`` ends."""
        def finished(f: Future[T]) -> None:
            error = f.exception()
            value = None if error is not None else f.result()
            Clock.schedule_once(lambda _dt: self._safe_done(done, value, error), 0)

        future.add_done_callback(finished)

    @staticmethod
    def _safe_done(done: Callable[[T | None, BaseException | None], None], value: T | None,
                   error: BaseException | None) -> None:
        try:
            done(value, error)
        except Exception:  # a screen's bug must not break the event loop
            log.exception("technician screen callback failed")
