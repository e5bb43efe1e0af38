"""The simulation dock: an overlay (F12 or the small SIM handle) to drive the simulators by
hand the way a citizen and the world would. Only in the simulation profile."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.scrollview import ScrollView

from screens.i18n import tr
from screens.widgets import KButton, KLabel

log = logging.getLogger("screens.dock")

CITIZENS_FILE = Path(__file__).resolve().parents[1] / "config" / "demo" / "citizens.yaml"


def demo_people() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Demo citizens and enterprises (keys and identifiers; the dock shows only keys)."""
    try:
        data = yaml.safe_load(CITIZENS_FILE.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return [], []
    return list(data.get("citizens", [])), list(data.get("enterprises", []))


class SimControls:
    """What the dock can do, found with getattr: any part may be missing."""

    def __init__(self, core: Any) -> None:
        self.core = core

    def _sim(self, device: str, attr: str = "simulator") -> Any:
        dev = self.core.device(device)
        return getattr(dev, attr, None) if dev is not None else None

    @property
    def idcard(self) -> Any:
        return self._sim("idcard")

    @property
    def camera(self) -> Any:
        return self._sim("camera")

    @property
    def qr(self) -> Any:
        return self._sim("qr")

    @property
    def printer(self) -> Any:
        return self._sim("printer", "emulator")

    @property
    def code_issuer(self) -> Callable[[str], str] | None:
        backend = self.core.backend
        inner = getattr(backend, "inner", backend)
        service = getattr(inner, "service", None)
        issuer = getattr(service, "issue_identity_code", None)
        return issuer if callable(issuer) else None

    @property
    def switchable(self) -> bool:
        return callable(getattr(self.core.backend, "cut", None))

    # -- actions (worker threads) ----------------------------------------------------------
    def insert_card(self, key: str) -> None:
        self.idcard.insert(key)

    def remove_card(self) -> None:
        self.idcard.remove()

    def show_code(self, id_number: str) -> bool:
        issuer = self.code_issuer
        if issuer is None or self.qr is None:
            return False
        if self.core.backend is not None and getattr(self.core.backend, "is_cut", False):
            # the phone app cannot fetch a code either; show a stale, unverifiable one
            return bool(self.qr.scan("GZID1.offline.offline"))
        return bool(self.qr.scan(issuer(id_number)))

    def present_face(self, who: str | None) -> None:
        self.camera.present(who)

    def paper(self, out: bool) -> None:
        self.printer.set_fault("paper_out" if out else None)

    def backend(self, cut: bool) -> None:
        if cut:
            self.core.backend.cut()
        else:
            self.core.backend.restore()


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
        self.controls = SimControls(app.core)
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
        c = self.controls
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
        card_ok = c.idcard is not None
        for person in citizens:
            key = str(person["key"])
            grid.add_widget(self._button(
                tr("dock_insert_card", lang, key=key), f"dock:card:{key}",
                (lambda k=key: c.insert_card(k)) if card_ok else None,
                tr("dock_missing", lang)))
        grid.add_widget(self._button(tr("dock_remove_card", lang), "dock:card:remove",
                                     c.remove_card if card_ok else None,
                                     tr("dock_missing", lang)))
        code_ok = c.code_issuer is not None and c.qr is not None
        for person in citizens[:2]:
            key, number = str(person["key"]), str(person["id_number"])
            grid.add_widget(self._button(
                tr("dock_show_code", lang, key=key), f"dock:code:{key}",
                (lambda n=number: c.show_code(n)) if code_ok else None,
                tr("dock_no_code", lang)))
        cam_ok = c.camera is not None
        for who, label in (("holder", "dock_face_holder"), ("impostor", "dock_face_impostor"),
                           ("photo", "dock_face_photo"), ("none", "dock_face_none")):
            grid.add_widget(self._button(
                tr(label, lang), f"dock:face:{who}",
                (lambda w=who: self._face(w)) if cam_ok else None, tr("dock_missing", lang)))
        printer_ok = c.printer is not None
        grid.add_widget(self._button(tr("dock_paper_out", lang), "dock:paper:out",
                                     (lambda: c.paper(True)) if printer_ok else None,
                                     tr("dock_missing", lang)))
        grid.add_widget(self._button(tr("dock_paper_in", lang), "dock:paper:in",
                                     (lambda: c.paper(False)) if printer_ok else None,
                                     tr("dock_missing", lang)))
        grid.add_widget(self._button(tr("dock_backend_cut", lang), "dock:backend:cut",
                                     (lambda: c.backend(True)) if c.switchable else None,
                                     tr("dock_missing", lang)))
        grid.add_widget(self._button(tr("dock_backend_restore", lang), "dock:backend:restore",
                                     (lambda: c.backend(False)) if c.switchable else None,
                                     tr("dock_missing", lang)))
        scroll = ScrollView(do_scroll_x=False)
        scroll.add_widget(grid)
        outer.add_widget(scroll)
        return outer

    def _face(self, who: str) -> None:
        """Present the current holder's face (or another person's, or a photo of it)."""
        c = self.controls
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
        card = getattr(self.controls.idcard, "card", None)
        return str(card or "chen")

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
