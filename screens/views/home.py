"""Home: matters by category, search by keyword or pinyin initials, availability."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.widget import Widget

from screens.search import search
from screens.viewmodel import safe
from screens.views.base import KioskScreen
from screens.views.bundle_base import BundleTiles
from screens.widgets import Badge, KLabel, TapCard, apply_key, discard_children


class HomeScreen(KioskScreen):
    """Choose a matter."""

    category = StringProperty("personal")
    query = StringProperty("")
    keyboard_open = BooleanProperty(False)
    voice_key = "home_voice"
    poll_every = 1.0  # a device going down disables its matters while the list is shown

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._last_blockers: dict[str, tuple[str, ...]] = {}
        self._bundle_tiles = BundleTiles()

    def on_kv_post(self, base_widget: Any) -> None:
        self.attach_letter_keyboard(self.type_key)

    def on_leave(self, *_args: Any) -> None:
        super().on_leave()
        self.keyboard_open = False

    def poll(self, _dt: float) -> None:
        current = {m.id: tuple(self.vm.blockers(m)) for m in self.vm.matters}
        if current != self._last_blockers:
            self.refresh()

    @safe
    def set_category(self, category: str) -> None:
        self.category = category
        self.refresh()

    @safe
    def type_key(self, key: str) -> None:
        self.query = apply_key(self.query, key, 20)
        self.refresh()

    def toggle_keyboard(self) -> None:
        self.keyboard_open = not self.keyboard_open

    @safe
    def refresh(self) -> None:
        vm = self.vm
        if not vm.matters:
            vm.load_matters()
        box = self.ids.matters
        if self._bundle_tiles.parent is box:  # kept: shown again below
            box.remove_widget(self._bundle_tiles)
        discard_children(box)
        self._last_blockers = {}
        if not self.query:  # 一件事一次办: the themed bundles above the matters
            self._bundle_tiles.update(self.category)
            box.add_widget(self._bundle_tiles)
        if vm.matters_error and not vm.matters:
            box.add_widget(KLabel(text=self.t("catalogue_unavailable"), role="danger", base=32))
            return
        if not vm.matters:
            box.add_widget(KLabel(text=self.t("loading_matters"), role="muted", base=32))
            return
        found = search(vm.matters, self.query, self.category)
        for matter in vm.matters:
            self._last_blockers[matter.id] = tuple(vm.blockers(matter))
        if not found:
            box.add_widget(KLabel(text=self.t("no_matters_found"), role="muted", base=32))
        for matter in found:
            box.add_widget(self._tile(matter, list(self._last_blockers[matter.id])))

    def _tile(self, matter: Any, blockers: list[str]) -> TapCard:
        tile = TapCard(name=f"matter:{matter.id}")
        tile.add_widget(KLabel(text=self.text_of(matter.name), base=36, bold=True,
                               role="fg" if not blockers else "muted"))
        badges = []
        if matter.certificate_free:
            badges.append(self.t("badge_certificate_free"))
        if matter.approval.value == "instant":
            badges.append(self.t("badge_instant"))
        if badges:
            from kivy.uix.boxlayout import BoxLayout

            row = BoxLayout(size_hint_y=None, spacing=self.vm.u * 12,
                            height=self.vm.f * 44)
            for text in badges:
                row.add_widget(Badge(text=text))
            row.add_widget(Widget())
            tile.add_widget(row)
        tile.add_widget(KLabel(text=self.text_of(matter.department), base=24, role="muted"))
        if blockers:
            reasons = "；".join(self.t(f"blocker_{b}") for b in blockers)
            tile.add_widget(KLabel(text="✕ " + self.t("matter_paused") + reasons,
                                   base=26, role="danger", bold=True))
            tile.bind(on_release=lambda *_: self.vm.show_message(
                "matter_unavailable", "error", reasons))
        else:
            tile.bind(on_release=lambda *_, mid=matter.id: self.choose(mid))
        return tile

    @safe
    def choose(self, matter_id: str) -> None:
        self.keyboard_open = False
        self.journey.select_matter(matter_id)

    def clear_personal(self) -> None:
        self.query = ""
        self.category = "personal"
        self.keyboard_open = False
