"""What the bundle screens (一件事一次办) share: the flow they show
(:class:`kiosk.session.bundles.BundleFlow`), a matter's state in words, and the bundle tiles
placed on home.

The flow is not a session state: the app shows ``bundle_<screen>`` over home while
:attr:`ViewModel.bundle_step` names a step (see ``screens/kioskapp.py``).
"""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.uix.boxlayout import BoxLayout

from screens.i18n import tr
from screens.viewmodel import safe
from screens.views.base import KioskScreen
from screens.widgets import KLabel, TapCard, discard_children

# the flow's steps and the screens that show them (submitting: the review, busy)
SCREEN_OF_STEP = {"overview": "bundle_overview", "form": "bundle_form",
                  "review": "bundle_review", "submitting": "bundle_review",
                  "receipt": "bundle_receipt"}
STATES = frozenset({"home"})  # where the flow opens (and its screens show)


def text_of(i18n: dict[str, str], lang: str) -> str:
    return i18n.get(lang) or i18n.get("zh_CN") or next(iter(i18n.values()), "")


def reason_text(reason: str, material: str, matter: Any, lang: str) -> str:
    """Why a matter of the bundle failed, in plain words (the material named)."""
    name = next((text_of(m.name, lang) for m in matter.materials if m.id == material),
                material)
    return tr(reason, lang, material=name)


def outcome_text(outcome: Any, lang: str) -> tuple[str, str]:
    """(mark and state in words, role) of one matter on the receipt."""
    if outcome.failed:
        return "✕ " + tr("bundle_state_failed", lang), "danger"
    if outcome.pending:
        return "● " + tr("bundle_state_stored", lang), "primary"
    state = outcome.receipt.state.value
    if state in ("approved", "result_issued"):
        return "✓ " + tr("bundle_state_done", lang), "success"
    return "● " + tr("bundle_state_accepted", lang), "primary"


class BundleScreen(KioskScreen):
    """A screen of the bundle flow: reads the flow's view on refresh."""

    @property
    def flow(self) -> Any:
        return self.journey.bundles

    def view(self) -> Any:
        return self.flow.view()

    def title_text(self) -> str:
        bundle = self.view().bundle
        return self.text_of(bundle.name) if bundle is not None else ""

    @safe
    def go_back(self) -> None:
        self.flow.back()


class BundleTiles(BoxLayout):
    """On home (personal matters): one tile per themed bundle; loaded off the UI thread."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("orientation", "vertical")
        kwargs.setdefault("size_hint_y", None)
        super().__init__(**kwargs)
        self.bind(minimum_height=self.setter("height"))
        self._bundles: list[Any] | None = None
        self._loading = False

    def update(self, category: str) -> None:
        app = App.get_running_app()
        if app is None or app.vm is None or app.vm.core.journey is None:
            return
        vm = app.vm
        discard_children(self)
        self.spacing = vm.u * 12
        if category != "personal":
            return
        if self._bundles is None:
            self._load(app.vm.core.journey.bundles, category)
            return
        if not self._bundles:
            return
        self.add_widget(KLabel(text=tr("bundle_section", vm.lang), base=30, bold=True,
                               role="primary"))
        for bundle in self._bundles:
            tile = TapCard(name=f"bundle:{bundle.id}")
            tile.add_widget(KLabel(text=text_of(bundle.name, vm.lang), base=36, bold=True))
            tile.add_widget(KLabel(text=text_of(bundle.summary, vm.lang), base=26))
            tile.add_widget(KLabel(text=tr("bundle_steps_count", vm.lang,
                                           n=len(bundle.steps)), base=24, role="muted"))
            tile.bind(on_release=lambda *_, bid=bundle.id: self.choose(bid))
            self.add_widget(tile)

    def _load(self, flow: Any, category: str) -> None:
        if self._loading:
            return
        self._loading = True

        def work() -> None:
            try:
                found = list(flow.bundles())
            except Exception:  # the catalogue is unavailable: home shows matters only
                found = []

            def apply(_dt: float) -> None:
                self._loading = False
                self._bundles = found
                self.update(category)

            Clock.schedule_once(apply, 0)

        import threading

        threading.Thread(target=work, name="bundles", daemon=True).start()

    @safe
    def choose(self, bundle_id: str) -> None:
        App.get_running_app().vm.core.journey.bundles.choose(bundle_id)
