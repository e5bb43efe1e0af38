"""The structured address picker: province -> city -> district -> street/town, so the citizen
taps the first lines of a postal address and types only the last one.

The tree is the official division table (``kiosk.address``), loaded once on a worker; the
picker opens at the kiosk's own district (its streets and towns first). Division names are
shown and recorded as officially written, in every language: converted to traditional
characters, proper names go wrong (OpenCC makes 里水镇 裏水鎮 and 余姚 餘姚), and the post
delivers to the official names. The prompts follow the language.
"""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.scrollview import ScrollView

from screens.i18n import tr
from screens.widgets import KButton, KLabel, discard_children

PROMPTS = ("area_choose_province", "area_choose_city", "area_choose_district",
           "area_choose_street")


class AddressPicker(BoxLayout):
    """The chosen levels as a row of buttons (``area_level:<i>``: choose again from there)
    and the next level's divisions as a grid (``area:<official name>``). Emits
    ``on_picked(path)`` (a list of ``kiosk.address.Division``) when a division with nothing
    below it is chosen (a street or town; Hong Kong and Macao as a whole)."""

    __events__ = ("on_picked",)
    lang = StringProperty("zh_CN")
    district = StringProperty("")
    loading = BooleanProperty(True)
    prompt = StringProperty("")
    max_rows = NumericProperty(4)  # rows of choices shown before the grid scrolls

    def __init__(self, **kwargs: Any) -> None:
        self.path: list[Any] = []
        self._opened = False
        self._poll: Any = None
        super().__init__(orientation="vertical", size_hint_y=None, spacing=8, **kwargs)
        self.bind(minimum_height=self.setter("height"))
        self.prompt_label = KLabel(base=28, role="muted")
        self.crumbs = BoxLayout(size_hint_y=None, spacing=8)
        self.crumbs.bind(minimum_height=self.crumbs.setter("height"))
        self.scroll = ScrollView(size_hint_y=None, do_scroll_x=False, bar_width=10)
        self.grid = GridLayout(cols=3, spacing=8, size_hint_y=None)
        self.grid.bind(minimum_height=self._fit)
        self.scroll.add_widget(self.grid)
        for w in (self.prompt_label, self.crumbs, self.scroll):
            self.add_widget(w)
        self._draw()

    # -- data -------------------------------------------------------------------------------
    @staticmethod
    def _warm() -> Any:
        from kiosk.ime.shared import division_tree

        return division_tree()

    def tree(self) -> Any:
        return self._warm().get()

    def on_district(self, *_args: Any) -> None:
        self._warm().start()

    def on_lang(self, *_args: Any) -> None:
        self._draw()

    def open(self, path: list[Any] | None = None) -> None:
        """Show the picker at ``path`` (a previous choice), else at the kiosk's district."""
        self.path = list(path or [])
        self._opened = bool(path)
        self._draw()

    def reset(self) -> None:
        self.path = []
        self._opened = False
        self._draw()

    # -- drawing ----------------------------------------------------------------------------
    def _fit(self, _grid: Any, height: float) -> None:
        self.grid.height = height
        row = self.grid.children[0].height if self.grid.children else height
        self.scroll.height = min(height, self.max_rows * (row + 8))

    def _draw(self) -> None:
        tree = self.tree()
        self.loading = tree is None
        discard_children(self.crumbs)
        discard_children(self.grid)
        if tree is None:
            self.prompt = tr("area_loading", self.lang)
            self.prompt_label.text = self.prompt
            if self._poll is None and not self._warm().failed:
                self._poll = Clock.schedule_interval(self._check_ready, 0.25)
            if self._warm().failed:
                self.prompt_label.text = tr("area_unavailable", self.lang)
            return
        if not self._opened and not self.path:
            self.path = tree.start_for(self.district)
            self._opened = True
        for i, div in enumerate(self.path):
            name = div.name
            crumb = KButton(name=f"area_level:{i}", text=name + " ›", base=28, min_h=80,
                            kind="ghost", selected=True, size_hint_x=len(name) + 2)
            crumb.bind(on_release=lambda _b, n=i: self.back_to(n))
            self.crumbs.add_widget(crumb)
        parent = self.path[-1].code if self.path else ""
        choices = tree.children(parent)
        level = self.path[-1].level if self.path else 0
        nxt = choices[0].level if choices else level + 1
        self.prompt = tr(PROMPTS[min(max(nxt, 1), 4) - 1], self.lang)
        self.prompt_label.text = self.prompt
        self.grid.cols = 4 if not self.path else 3
        for div in choices:
            btn = KButton(name=f"area:{div.name}", text=div.name, base=28, min_h=84)
            btn.bind(on_release=lambda _b, d=div: self.choose(d))
            self.grid.add_widget(btn)
        self.scroll.scroll_y = 1

    def _check_ready(self, _dt: float) -> None:
        if self.tree() is not None or self._warm().failed:
            if self._poll is not None:
                self._poll.cancel()
                self._poll = None
            self._draw()

    # -- what the citizen does --------------------------------------------------------------
    def choose(self, div: Any) -> None:
        tree = self.tree()
        if tree is None:
            return
        self.path = [*self.path, div]
        if tree.has_children(div.code):
            self._draw()
            return
        self._draw()
        self.dispatch("on_picked", list(self.path))

    def back_to(self, index: int) -> None:
        """Choose again at level ``index`` (the crumbs before it stay)."""
        self.path = self.path[:index]
        self._draw()

    def on_picked(self, path: list[Any]) -> None:
        pass
