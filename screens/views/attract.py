"""Attract screen: three ways in (ID card, face, identity code) with an animation of where
the card reader and the scanner are, the most used matters as shortcuts, the district's
notices (from configuration) and "touch to start". A card or a code starts directly."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kivy.animation import Animation
from kivy.properties import ListProperty, NumericProperty, StringProperty
from kivy.uix.widget import Widget

from screens import attract_content
from screens.viewmodel import safe
from screens.views.base import KioskScreen
from screens.widgets import KButton, discard_children

ENTRY_HINTS = {"card": "entry_card_hint", "face": "entry_face_hint", "code": "entry_code_hint"}


class EntryArt(Widget):
    """A drawing of one way in (kv: CardArt, FaceArt, CodeArt); ``phase`` runs 0..1,
    ``t`` is the drawing's own progress, ``a`` its unit length."""

    phase = NumericProperty(0.0)
    t = NumericProperty(0.0)
    a = NumericProperty(100.0)


class AttractScreen(KioskScreen):
    """Idle screen between citizens."""

    notice_index = NumericProperty(0)
    notice_count = NumericProperty(0)
    notice_heading = StringProperty("")
    notice_text = StringProperty("")
    phase = NumericProperty(0.0)  # 0..1, drives the drawings
    way = StringProperty("")  # the entry tile tapped last ('' none)
    reader_x = NumericProperty(0.8)  # where the card reader is, 0..1 of the width
    scanner_x = NumericProperty(0.2)
    hints = ListProperty(["", "", ""])  # card, face, code: where to place what
    voice_key = "attract_voice"
    poll_every = 8.0  # the notices rotate (attract.notice_rotate_s)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._notices: list[tuple[str, str]] = []

    def loop_animation(self) -> Animation:
        return Animation(phase=1.0, duration=2.4) + Animation(phase=0.0, duration=0)

    @property
    def settings(self) -> Any:
        return self.vm.core.cfg.attract

    @safe
    def refresh(self) -> None:
        cfg = self.settings
        self.poll_every = float(cfg.notice_rotate_s)
        self.reader_x, self.scanner_x = attract_content.device_places(cfg.card_reader,
                                                                      cfg.scanner)
        card_where = self.t("where_" + cfg.card_reader)
        self.hints = [self.t("entry_card_hint", where=card_where),
                      self.t("entry_face_hint"),
                      self.t("entry_code_hint", where=self.t("where_" + cfg.scanner))]
        district = attract_content.notices(cfg, self.vm.lang, dt.date.today())
        self._notices = ([("attract_notices", text) for text in district]
                         + [("notice_heading", self.t(key)) for key in attract_content.TIPS])
        self.notice_count = len(self._notices)
        self._show_notice()
        self._build_shortcuts()

    @property
    def notice_texts(self) -> list[str]:
        """Every notice the card rotates through now, district notices first."""
        return [text for _, text in self._notices]

    def poll(self, _dt: float) -> None:
        if self._notices:
            self.notice_index = (self.notice_index + 1) % len(self._notices)
            self._show_notice()

    def _show_notice(self) -> None:
        if not self._notices:
            self.notice_heading = self.notice_text = ""
            return
        self.notice_index = int(self.notice_index) % len(self._notices)
        key, text = self._notices[int(self.notice_index)]
        self.notice_heading, self.notice_text = self.t(key), text

    def _build_shortcuts(self) -> None:
        box = self.ids.shortcuts
        discard_children(box)
        for matter in attract_content.shortcuts(self.vm.matters, self.settings.top_matters):
            blockers = self.vm.blockers(matter)
            btn = KButton(name=f"shortcut:{matter.id}", text=self.text_of(matter.name),
                          base=28, min_h=96)
            if blockers:
                btn.disabled = True
                btn.text += "\n✕ " + "；".join(self.t(f"blocker_{b}") for b in blockers)
            btn.bind(on_release=lambda _b, mid=matter.id: self.shortcut(mid))
            box.add_widget(btn)

    def spoken_text(self) -> str:
        if self.way:
            return self.hints[("card", "face", "code").index(self.way)]
        return super().spoken_text()

    @safe
    def show_way(self, way: str) -> None:
        """An entry tile tapped: point at its device, say where (elderly mode)."""
        self.way = "" if self.way == way else way
        if self.way:
            self.vm.say(self.spoken_text())

    @safe
    def start(self) -> None:
        self.journey.start_session()

    @safe
    def shortcut(self, matter_id: str) -> None:
        """A most-used matter: start a session and open its guide at once."""
        if self.journey.start_session():
            self.journey.select_matter(matter_id)

    def on_leave(self, *args: Any) -> None:
        super().on_leave(*args)
        self.way = ""
        self.phase = 0.0
