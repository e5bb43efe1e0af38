"""KioskApp: the Kivy App around the view-model (see screens/app.py for the entry point)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from kivy.animation import Animation
from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ObjectProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout

from screens.app import KV_DIR, LANGUAGE_LABELS, register_cjk_font
from screens.frames import FrameMonitor
from screens.header import FitLabel  # noqa: F401  (registers the header widgets)
from screens.i18n import tr
from screens.lockdown import CornerTaps, is_escape_key
from screens.viewmodel import ViewModel, safe
from screens.views import SERVICE_SCREENS, load_screen
from screens.views.appointment_base import SCREEN_OF_STEP
from screens.views.appointment_base import STATES as APPOINTMENT_STATES
from screens.views.bundle_base import SCREEN_OF_STEP as BUNDLE_SCREEN_OF_STEP
from screens.views.bundle_base import STATES as BUNDLE_STATES
from screens.views.commitment import SCREEN as COMMITMENT_SCREEN
from screens.views.commitment import STATES as COMMITMENT_STATES
from screens.widgets import KButton  # noqa: F401  (registers the widgets with Kivy's Factory)

log = logging.getLogger("screens.app")

BACK_STATES = {"home", "guide", "identify", "face_consent", "face", "consent", "certificates",
               "form", "review"}
NO_NAV_STATES = {"attract", "submitting", "goodbye"}
SELF_PROGRESS_STATES = {"face", "submitting"}


class KioskRoot(FloatLayout):
    """Chrome around the screen manager; overlays are added and removed as needed."""

    show_nav = BooleanProperty(False)
    can_back = BooleanProperty(False)
    voice_option = BooleanProperty(False)  # the Cantonese choice: elderly mode, Chinese
    technician = BooleanProperty(False)  # a technician's screen: no citizen header

    def toggle_elderly(self) -> None:
        vm = App.get_running_app().vm
        vm.set_elderly(not vm.elderly)

    def toggle_cantonese(self) -> None:
        app = App.get_running_app()
        app.vm.set_cantonese(not app.vm.cantonese)
        key = "voice_cantonese_on" if app.vm.cantonese else "voice_mandarin_on"
        app.speak_instruction(app.t(key))


class NavBar(BoxLayout):
    """The back/leave bar. Hidden, its buttons still stand out of its zero height, and a
    disabled widget swallows the touches it collides with: hidden, it takes none, so what
    is drawn there (a screen's bottom buttons) gets them."""

    shown = BooleanProperty(True)

    def on_touch_down(self, touch: Any) -> bool:
        return bool(super().on_touch_down(touch)) if self.shown else False

    def on_touch_up(self, touch: Any) -> bool:
        return bool(super().on_touch_up(touch)) if self.shown else False


class MessageBanner(FloatLayout):
    pass


class BusyOverlay(FloatLayout):
    def on_touch_down(self, touch: Any) -> bool:
        return True  # the kiosk is working: taps wait (no double submissions)

    def on_touch_up(self, touch: Any) -> bool:
        return True


class WarningOverlay(FloatLayout):
    def more_time(self) -> None:
        app = App.get_running_app()
        app.vm.core.session.more_time()
        app.vm.warning = False

    def leave_now(self) -> None:
        app = App.get_running_app()
        app.vm.journey.cancel()

    def on_touch_down(self, touch: Any) -> bool:
        super().on_touch_down(touch)
        return True


class KioskApp(App):
    """The citizen touchscreen."""

    vm = ObjectProperty(None)
    title = "政务服务自助终端"

    def __init__(self, core: Any, diagnostics: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.core = core
        self.vm = ViewModel(core)
        # the service gate and maintenance mode (kiosk.diag.attach): given by the composition
        # root, or built here for this app (and closed with it)
        self.diag = diagnostics or getattr(core, "diagnostics", None)
        self._own_diag = self.diag is None
        if self.diag is None:
            from kiosk.diag.attach import attach

            self.diag = attach(core)
        self.gate_status: Any = self.diag.gate.status()
        # opening hours and the display's dimming (kiosk.appliance.opening): given by the
        # composition root or a test (core.hours_gate), or built here for this app
        self.hours: Any = getattr(core, "hours_gate", None)
        self._own_hours = self.hours is None
        if self.hours is None:
            from kiosk.appliance.opening import attach_hours

            self.hours = attach_hours(core)
        self.hours_status: Any = self.hours.status()
        self._oos_session: int | None = None  # the journey under way when service stopped
        self._diag_unsubscribe: list[Any] = []
        self.frames = FrameMonitor()
        self.ready_file: str | None = None
        self.exit_when_ready = False
        self.stop_event: threading.Event | None = None
        self.screens: dict[str, Any] = {}
        self.root_widget: KioskRoot | None = None
        self.banner: MessageBanner | None = None
        self.busy_overlay: BusyOverlay | None = None
        self.warning_overlay: WarningOverlay | None = None
        self.dock: Any = None
        self.tech_gesture = CornerTaps(self._technician_gesture)
        self._ready_marked = False
        self._spin: Animation | None = None
        self._shut = False

    # -- build ------------------------------------------------------------------------------
    def build(self) -> KioskRoot:
        register_cjk_font()
        self.vm.u = Window.width / 1080.0
        Builder.load_file(str(KV_DIR / "theme.kv"))
        Builder.load_file(str(KV_DIR / "root.kv"))
        root = KioskRoot()
        self.root_widget = root
        self._build_langbar(root)
        root.ids.bottombar.children[1].bind(on_release=safe(lambda *_: self._back()))
        root.ids.bottombar.children[0].bind(on_release=safe(lambda *_: self.vm.journey.cancel()))
        self.banner = MessageBanner()
        self.busy_overlay = BusyOverlay()
        self.warning_overlay = WarningOverlay()
        vm = self.vm
        vm.bind(state=lambda *_: self.show_state(vm.state))
        vm.bind(lang=self._on_lang)
        vm.bind(elderly=self._on_elderly)
        vm.bind(message=self._sync_overlays, busy=self._sync_overlays, state=self._sync_overlays,
                warning=self._sync_overlays)
        vm.bind(on_wiped=lambda *_: self._wipe_screens())
        vm.bind(matters=lambda *_: (self._refresh_if("home"), self._refresh_if("attract")))
        vm.bind(enterprise_ok=lambda *_: self._refresh_if("consent"))
        vm.bind(appointment_step=lambda *_: self.show_state(vm.state),
                appointment_rev=lambda *_: self._refresh_appointment())
        vm.bind(bundle_step=lambda *_: self.show_state(vm.state),
                bundle_rev=lambda *_: self._refresh_bundle())
        vm.bind(commitment_step=lambda *_: self.show_state(vm.state),
                commitment_rev=lambda *_: self._refresh_commitment())
        Window.bind(on_resize=lambda _w, width, _h: setattr(vm, "u", width / 1080.0))
        return root

    def on_start(self) -> None:
        cfg = self.core.cfg
        Window.bind(on_request_close=self._on_request_close, on_keyboard=self._on_keyboard)
        Window.bind(on_touch_down=self._on_any_touch)
        Clock.schedule_interval(self.frames.frame, 0)
        if self.stop_event is not None:
            Clock.schedule_interval(self._check_stop, 0.2)
        self.vm.attach()
        # the gate and the hours are read afresh on the UI thread, not taken from the
        # event: a change published before these subscriptions (while the app was built)
        # or two publications arriving out of order would otherwise leave a stale screen
        self._diag_unsubscribe = [
            self.diag.gate.subscribe(lambda _status: Clock.schedule_once(self._sync_gate, 0)),
            self.diag.maintenance.subscribe(
                lambda event: Clock.schedule_once(lambda _dt: self._on_maintenance(event), 0)),
            self.hours.subscribe(lambda _status: Clock.schedule_once(self._sync_hours, 0))]
        Clock.schedule_once(self._sync_gate, 0)  # whatever changed since __init__ read them
        Clock.schedule_once(self._sync_hours, 0)
        if cfg.profile == "simulation" and cfg.ui.simulation_dock:
            from screens.dock import install_dock

            self.dock = install_dock(self)
        self.show_state(self.vm.state)
        self.vm.load_matters()
        Clock.schedule_once(self._mark_ready, 0)
        # pinyin input and address picker data, built on a worker once the kiosk is up
        from kiosk.ime.shared import warm_input

        Clock.schedule_once(lambda _dt: warm_input(cfg.kiosk.district), 5)

    def _mark_ready(self, _dt: float) -> None:
        if self._ready_marked:
            return
        self._ready_marked = True
        self.core.mark_ready(self.ready_file)
        log.info("touchscreen ready")
        if self.exit_when_ready:
            self.stop()

    def _check_stop(self, _dt: float) -> None:
        if self.stop_event is not None and self.stop_event.is_set():
            self.stop()

    def on_stop(self) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        if self._shut:
            return
        self._shut = True
        self.vm.detach()
        for unsubscribe in self._diag_unsubscribe:
            unsubscribe()
        if self._own_diag and self.diag is not None:
            self.diag.close()
        if self._own_hours and self.hours is not None:
            self.hours.close()

    # -- lockdown --------------------------------------------------------------------------
    def _on_request_close(self, *_args: Any, **_kw: Any) -> bool:
        if self.core.cfg.ui.lockdown and not (self.stop_event and self.stop_event.is_set()):
            log.info("close request ignored (lockdown)")
            return True
        return False

    def _on_keyboard(self, _window: Any, key: int, _scancode: int, _codepoint: Any,
                     modifiers: list[str]) -> bool:
        if key == 293 and self.dock is not None:  # F12: simulation dock
            self.dock.toggle()
            return True
        if self.core.cfg.ui.lockdown and is_escape_key(key, modifiers):
            return True
        return False

    def _on_any_touch(self, window: Any, touch: Any) -> bool:
        try:
            self.vm.core.journey.touch()
            self.hours.touch()  # a dimmed display brightens
            maintenance = self.diag.maintenance
            if maintenance.active:
                maintenance.touch()
            elif maintenance.prompt_open:
                maintenance.prompt_touch()
            self.tech_gesture.tap(touch.x, touch.y, window.height)
        except Exception:
            log.exception("touch bookkeeping failed")
        return False

    def _technician_gesture(self) -> None:
        """Five taps in the top-left corner: the technician prompt (the maintenance
        controller wipes the citizen session first, on its worker; its ``prompt`` event
        shows the prompt)."""
        self.diag.maintenance.open_prompt()

    # -- service gate and maintenance (events marshalled to the UI thread) ------------------
    def _sync_gate(self, _dt: float = 0.0) -> None:
        status = self.diag.gate.status()
        if status.key() != self.gate_status.key():  # what a change is, as the gate says
            self._on_gate(status)

    def _sync_hours(self, _dt: float = 0.0) -> None:
        status = self.hours.status()
        if status.key() != self.hours_status.key():
            self._on_hours(status)

    def _on_gate(self, status: Any) -> None:
        was_out = self.gate_status.mode == "out_of_service"
        self.gate_status = status
        if status.mode == "out_of_service" and not was_out:
            # a citizen already served finishes; no new journey after
            self._oos_session = self.vm.session_no if self.vm.state != "attract" else None
        self.show_state(self.vm.state)
        self._refresh_if_service("out_of_service")

    def _on_hours(self, status: Any) -> None:
        self.hours_status = status
        self.show_state(self.vm.state)
        self._refresh_if_service("closed")

    def _on_maintenance(self, event: Any) -> None:
        if event.kind in ("prompt", "opened", "ended"):
            self.show_state(self.vm.state)
        scr = self.screens.get("technician")
        if scr is not None:
            safe(scr.on_maintenance)(event)

    def service_screen(self) -> str | None:
        """The screen shown instead of the journey's, if any: maintenance, the technician
        prompt, out of service (at the attract screen, or for a journey that started
        while the kiosk was out of service), or closed (outside the opening hours, but not
        over the session under way at closing time within its grace)."""
        maintenance = self.diag.maintenance
        if maintenance.active:
            return "maintenance"
        if maintenance.prompt_open:
            return "technician"
        if self.gate_status.mode == "out_of_service":
            under_way = self.vm.state != "attract" and self.vm.session_no == self._oos_session
            if not under_way:
                return "out_of_service"
        hours = self.hours_status  # out of service first: see screens/views/closed.py
        if hours.closed:
            under_way = self.vm.state != "attract" and self.vm.session_no == hours.grace_session
            if not under_way:
                return "closed"
        return None

    def _refresh_if_service(self, name: str) -> None:
        root = self.root_widget
        if root is not None and root.ids.sm.current == name and name in self.screens:
            safe(self.screens[name].refresh)()

    # -- screens ---------------------------------------------------------------------------
    def screen(self, state: str) -> Any:
        if state not in self.screens:
            self.frames.mark_load()
            scr = load_screen(state)
            self.screens[state] = scr
            assert self.root_widget is not None
            self.root_widget.ids.sm.add_widget(scr)
        return self.screens[state]

    @safe
    def show_state(self, state: str) -> None:
        root = self.root_widget
        if root is None:
            return
        state = (self.service_screen() or self.appointment_screen(state)
                 or self.bundle_screen(state) or self.commitment_screen(state) or state)
        if state in SERVICE_SCREENS and root.ids.sm.current == state:
            return  # shown already (a gate or maintenance event): it keeps its own state
        self.frames.mark_load()
        scr = self.screen(state)
        scr.refresh()
        root.ids.sm.current = state
        root.show_nav = state not in NO_NAV_STATES and state not in SERVICE_SCREENS
        root.can_back = (state in BACK_STATES or state in SCREEN_OF_STEP.values()
                         or state in BUNDLE_SCREEN_OF_STEP.values()
                         or state == COMMITMENT_SCREEN)
        root.technician = state in ("technician", "maintenance")
        self._sync_overlays()
        spoken = scr.spoken_text()
        if spoken:
            self.vm.say(spoken)
        if state == "attract":
            Clock.schedule_once(self._mark_ready, 0)

    # -- counter appointments (kiosk.session.appointments) ----------------------------------
    def appointment_screen(self, state: str) -> str | None:
        """The appointment screen shown over home or result while the flow is open."""
        step = self.vm.appointment_step
        return SCREEN_OF_STEP.get(step) if step and state in APPOINTMENT_STATES else None

    def _refresh_appointment(self) -> None:
        root = self.root_widget
        name = self.appointment_screen(self.vm.state)
        if root is not None and name and root.ids.sm.current == name and name in self.screens:
            self.frames.mark_load()
            safe(self.screens[name].refresh)()

    # -- themed bundles (kiosk.session.bundles) ----------------------------------------------
    def bundle_screen(self, state: str) -> str | None:
        """The bundle screen shown over home while the flow is open."""
        step = self.vm.bundle_step
        return BUNDLE_SCREEN_OF_STEP.get(step) if step and state in BUNDLE_STATES else None

    def _refresh_bundle(self) -> None:
        root = self.root_widget
        name = self.bundle_screen(self.vm.state)
        if root is not None and name and root.ids.sm.current == name and name in self.screens:
            self.frames.mark_load()
            safe(self.screens[name].refresh)()

    # -- signed commitments (kiosk.session.commitments) --------------------------------------
    def commitment_screen(self, state: str) -> str | None:
        """The commitment screen, shown over certificates while its flow is open."""
        return COMMITMENT_SCREEN if self.vm.commitment_step and state in COMMITMENT_STATES \
            else None

    def _refresh_commitment(self) -> None:
        root = self.root_widget
        name = self.commitment_screen(self.vm.state)
        if root is not None and name and root.ids.sm.current == name and name in self.screens:
            self.frames.mark_load()
            safe(self.screens[name].refresh)()

    def _back(self) -> None:
        """The back button: one step back in the appointment flow, else in the journey."""
        journey = self.vm.journey
        if self.commitment_screen(self.vm.state):
            journey.commitments.close()  # back to the certificates, nothing kept
        elif self.appointment_screen(self.vm.state):
            journey.appointments.back()
        elif self.bundle_screen(self.vm.state):
            journey.bundles.back()
        else:
            journey.back()

    def _refresh_if(self, state: str) -> None:
        if self.vm.state == state and state in self.screens:
            self.frames.mark_load()
            safe(self.screens[state].refresh)()

    def _refresh_current(self) -> None:
        root = self.root_widget
        if root is not None and root.ids.sm.current in SERVICE_SCREENS:
            self._refresh_if_service(root.ids.sm.current)
        elif self.appointment_screen(self.vm.state):
            self._refresh_appointment()
        elif self.bundle_screen(self.vm.state):
            self._refresh_bundle()
        elif self.commitment_screen(self.vm.state):
            self._refresh_commitment()
        else:
            self._refresh_if(self.vm.state)

    def _on_lang(self, *_args: Any) -> None:
        self._update_langbar()
        self._refresh_current()
        self._update_voice_option()
        self.speak_instruction()  # in elderly mode: again, in the new language

    def _on_elderly(self, _vm: Any, on: bool) -> None:
        self._refresh_current()
        self._update_voice_option()
        if on:
            self.speak_instruction(self.t("elderly_on_voice"))

    def _update_voice_option(self) -> None:
        if self.root_widget is not None:
            self.root_widget.voice_option = self.vm.elderly and self.vm.lang != "en"

    def speak_instruction(self, before: str = "") -> None:
        """Speak (elderly mode) ``before`` and then the current screen's main instruction,
        as one utterance so neither cuts the other off."""
        scr = self.screens.get(self.appointment_screen(self.vm.state)
                               or self.bundle_screen(self.vm.state)
                               or self.commitment_screen(self.vm.state) or self.vm.state)
        spoken = safe(scr.spoken_text)() if scr is not None else ""
        text = " ".join(t for t in (before, spoken) if t)
        if text:
            self.vm.say(text)

    def _wipe_screens(self) -> None:
        for scr in self.screens.values():
            safe(scr.clear_personal)()

    def _build_langbar(self, root: KioskRoot) -> None:
        from kivy.factory import Factory

        bar = root.ids.langbar
        for lang in self.vm.languages:
            btn = Factory.LangButton(text=LANGUAGE_LABELS.get(lang, lang), name=f"lang:{lang}")
            btn.bind(on_release=safe(lambda _b, code=lang: self.vm.set_language(code)))
            bar.add_widget(btn)
        self._update_langbar()

    def _update_langbar(self) -> None:
        if self.root_widget is None:
            return
        for btn in self.root_widget.ids.langbar.children:
            btn.selected = btn.name == f"lang:{self.vm.lang}"

    # -- overlays --------------------------------------------------------------------------
    def _sync_overlays(self, *_args: Any) -> None:
        root = self.root_widget
        if root is None:
            return
        vm = self.vm
        citizen = root.ids.sm.current not in SERVICE_SCREENS  # not over a service screen
        # the face and submitting screens show their own progress
        self._show(self.busy_overlay,
                   citizen and vm.busy and vm.state not in SELF_PROGRESS_STATES)
        self._show(self.banner, citizen and bool(vm.message) and not vm.busy)
        self._show(self.warning_overlay, citizen and vm.warning)
        if self.dock is not None:
            self.dock.raise_to_top()
        spinner = self.busy_overlay.children[0].children[-1] if self.busy_overlay else None
        if vm.busy and spinner is not None and self._spin is None:
            self._spin = Animation(angle=360, duration=1.2)
            self._spin += Animation(angle=0, duration=0)
            self._spin.repeat = True
            self._spin.start(spinner)
        elif not vm.busy and self._spin is not None:
            self._spin.cancel(spinner)
            self._spin = None

    def _show(self, widget: Any, visible: bool) -> None:
        root = self.root_widget
        if widget is None or root is None:
            return
        if visible and widget.parent is None:
            root.add_widget(widget)
        elif not visible and widget.parent is not None:
            root.remove_widget(widget)

    def t(self, key: str, /, **params: Any) -> str:
        return tr(key, self.vm.lang, **params)
