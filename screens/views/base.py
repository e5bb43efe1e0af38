"""The base of every screen: access to the view-model and journey, refresh and wipe hooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.animation import Animation
from kivy.app import App
from kivy.clock import Clock
from kivy.uix.screenmanager import Screen

from screens.i18n import has, tr


class KioskScreen(Screen):
    """One screen per session state. ``refresh()`` (re)builds what depends on the session or
    the language; ``clear_personal()`` drops every personal value the screen shows."""

    voice_key = ""  # instruction spoken on entry in elderly mode
    poll_every = 0.0  # seconds between calls of ``poll`` while shown (0: never)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._anim: Animation | None = None
        self._poll: Any = None

    def loop_animation(self) -> Animation | None:
        """An animation to repeat while the screen is shown (a spinner, a pulse)."""
        return None

    def poll(self, _dt: float) -> None:
        """Called every ``poll_every`` seconds while the screen is shown."""

    def attach_letter_keyboard(self, on_key: Callable[[str], None]) -> None:
        """Wire the screen's on-screen keyboard (``ids.keyboard``) for letters and digits."""
        from screens.widgets import LETTERS

        pad = self.ids.keyboard
        pad.cols = 10
        pad.keys = LETTERS
        pad.bind(on_key=lambda _p, key: on_key(key))

    def on_enter(self, *_args: Any) -> None:
        if self._anim is None:
            self._anim = self.loop_animation()
            if self._anim is not None:
                self._anim.repeat = True
                self._anim.start(self)
        if self.poll_every and self._poll is None:
            self._poll = Clock.schedule_interval(self.poll, self.poll_every)

    def on_leave(self, *_args: Any) -> None:
        if self._anim is not None:
            self._anim.cancel(self)
            self._anim = None
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None

    @property
    def vm(self) -> Any:
        return App.get_running_app().vm

    @property
    def journey(self) -> Any:
        return self.vm.core.journey

    @property
    def data(self) -> Any:
        return self.vm.core.session.data

    def t(self, key: str, /, **params: Any) -> str:
        return tr(key, self.vm.lang, **params)

    def label(self, key: str, fallback: str) -> str:
        """A catalogue label, or ``fallback`` (data from the platform) when it has none."""
        return self.t(key) if has(key, self.vm.lang) else fallback

    def text_of(self, i18n: dict[str, str]) -> str:
        """A backend I18nText in the current language (zh_CN when missing)."""
        return i18n.get(self.vm.lang) or i18n.get("zh_CN") or next(iter(i18n.values()), "")

    def refresh(self) -> None:
        pass

    def clear_personal(self) -> None:
        pass

    def spoken_text(self) -> str:
        return self.t(self.voice_key) if self.voice_key else ""
