"""The base of every screen: access to the view-model and journey, refresh and wipe hooks."""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.uix.screenmanager import Screen

from screens.i18n import has, tr


class KioskScreen(Screen):
    """One screen per session state. ``refresh()`` (re)builds what depends on the session or
    the language; ``clear_personal()`` drops every personal value the screen shows."""

    voice_key = ""  # instruction spoken on entry in elderly mode

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
