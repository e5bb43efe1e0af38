"""The simulation dock: an overlay (F12 or the small SIM handle) to drive the simulators by
hand the way a citizen and the world would. Only in the simulation profile.

Everything goes through :class:`kiosk.simulation.SimulationControls` (the simulators' control
sockets and the switchable backend): the dock holds no device and no simulator."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.scrollview import ScrollView

from hardware.sim import people
from kiosk.simulation import SimulationControls
from screens.i18n import tr
from screens.widgets import KButton, KLabel

log = logging.getLogger("screens.dock")


def demo_people() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Demo citizens and enterprises (keys and identifiers; the dock shows only keys)."""
    try:
        return people.citizens(), people.enterprises()
    except (OSError, ValueError):
        return [], []


def _run(fn: Callable[[], Any]) -> None:
    def work() -> None:
        try:
            fn()
        except Exception:
            log.exception("simulation dock action failed")

    threading.Thread(target=work, name="dock", daemon=True).start()


class Dock:
    """The panel and its handle inside the app's root layout."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.controls: SimulationControls | None = app.core.simulation
        self.open = False
        self.handle = KButton(text="SIM", name="dock:handle", base=20, min_h=60,
                              size_hint=(None, None), pos_hint={"right": 1, "center_y": 0.5})
        self.handle.bind(on_release=lambda *_: self.toggle())
        self.panel = self._build_panel()

    def _lang(self) -> str:
        return str(self.app.vm.lang)

    def _button(self, text: str, name: str, action: Callable[[], Any] | None,
                reason: str = "") -> KButton:
        btn = KButton(text=text, name=name, base=20, min_h=64)
        if action is None:
            btn.disabled = True
            btn.text = f"{text}\n({reason})" if reason else text
        else:
            btn.bind(on_release=lambda *_: _run(action))
        return btn

    def _build_panel(self) -> BoxLayout:
        c = self.controls or SimulationControls({})  # nothing simulated: every button off
        lang = self._lang()
        outer = BoxLayout(orientation="vertical", size_hint=(0.46, 0.8),
                          pos_hint={"right": 1, "y": 0.06}, padding=8, spacing=6)
        from kivy.graphics import Color, Rectangle

        with outer.canvas.before:
            Color(0.1, 0.1, 0.12, 0.93)
            rect = Rectangle(pos=outer.pos, size=outer.size)
        outer.bind(pos=lambda w, p: setattr(rect, "pos", p),
                   size=lambda w, s: setattr(rect, "size", s))
        title = KLabel(text=tr("dock_title", lang), base=24, bold=True)
        title.color = (1, 1, 1, 1)
        outer.add_widget(title)
        grid = GridLayout(cols=2, spacing=6, size_hint_y=None)
        grid.bind(minimum_height=grid.setter("height"))
        citizens, _enterprises = demo_people()
        card_ok = c.has("idcard")
        for person in citizens:
            key = str(person["key"])
            grid.add_widget(self._button(
                tr("dock_insert_card", lang, key=key), f"dock:card:{key}",
                (lambda k=key: c.insert_card(k)) if card_ok else None,
                tr("dock_missing", lang)))
        grid.add_widget(self._button(tr("dock_remove_card", lang), "dock:card:remove",
                                     c.remove_card if card_ok else None,
                                     tr("dock_missing", lang)))
        code_ok = c.can_show_codes
        for person in citizens[:2]:
            key, number = str(person["key"]), str(person["id_number"])
            grid.add_widget(self._button(
                tr("dock_show_code", lang, key=key), f"dock:code:{key}",
                (lambda n=number: c.show_identity_code(n)) if code_ok else None,
                tr("dock_no_code", lang)))
        cam_ok = c.has("camera")
        for who, label in (("holder", "dock_face_holder"), ("impostor", "dock_face_impostor"),
                           ("photo", "dock_face_photo"), ("none", "dock_face_none")):
            grid.add_widget(self._button(
                tr(label, lang), f"dock:face:{who}",
                (lambda w=who: self._face(w)) if cam_ok else None, tr("dock_missing", lang)))
        printer_ok = c.has("printer")
        grid.add_widget(self._button(tr("dock_paper_out", lang), "dock:paper:out",
                                     (lambda: c.paper(True)) if printer_ok else None,
                                     tr("dock_missing", lang)))
        grid.add_widget(self._button(tr("dock_paper_in", lang), "dock:paper:in",
                                     (lambda: c.paper(False)) if printer_ok else None,
                                     tr("dock_missing", lang)))
        grid.add_widget(self._button(tr("dock_backend_cut", lang), "dock:backend:cut",
                                     (lambda: c.backend_cut(True)) if c.can_cut_backend
                                     else None, tr("dock_missing", lang)))
        grid.add_widget(self._button(tr("dock_backend_restore", lang), "dock:backend:restore",
                                     (lambda: c.backend_cut(False)) if c.can_cut_backend
                                     else None, tr("dock_missing", lang)))
        scroll = ScrollView(do_scroll_x=False)
        scroll.add_widget(grid)
        outer.add_widget(scroll)
        return outer

    def _face(self, who: str) -> None:
        """Present the current holder's face (or another person's, or a photo of it)."""
        c = self.controls
        if c is None:
            return
        holder_key = self._current_card_key()
        if who == "none":
            c.present_face(None)
        elif who == "holder":
            c.present_face(holder_key)
        elif who == "photo":
            c.present_face(f"photo:{holder_key}")
        else:
            citizens, _ = demo_people()
            other = next((p["key"] for p in citizens if p["key"] != holder_key), None)
            c.present_face(other)

    def _current_card_key(self) -> str:
        card = self.controls.card_in_field() if self.controls and self.controls.has("idcard") \
            else None
        return card or "chen"

    # -- showing --------------------------------------------------------------------------
    def toggle(self) -> None:
        self.open = not self.open
        root = self.app.root_widget
        if self.open and self.panel.parent is None:
            root.add_widget(self.panel)
        elif not self.open and self.panel.parent is not None:
            root.remove_widget(self.panel)
        self.raise_to_top()

    def raise_to_top(self) -> None:
        root = self.app.root_widget
        for widget in (self.panel, self.handle):
            if widget.parent is root and root.children[0] is not widget:
                root.remove_widget(widget)
                root.add_widget(widget)
        if self.handle.parent is None:
            root.add_widget(self.handle)


def install_dock(app: Any) -> Dock:
    dock = Dock(app)
    dock.raise_to_top()
    return dock
