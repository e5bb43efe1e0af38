"""The view-model: typed Kivy properties the screens bind to, translations, and the one
place where session transitions and journey notices (worker threads) reach the UI thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kivy.clock import Clock
from kivy.event import EventDispatcher
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)

from screens import progress, theme
from screens.i18n import tr
from screens.voice import Speaker, voice_for

log = logging.getLogger("screens.viewmodel")

# notices whose text should also be spoken / shown as a banner
_BANNER_KINDS = ("error", "info")


def safe(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a UI callback: an exception is logged and shown as a plain message, never a
    traceback (the view-model is found through the running app)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception:
            log.exception("UI callback %s failed", getattr(fn, "__name__", fn))
            from kivy.app import App

            app = App.get_running_app()
            vm = getattr(app, "vm", None)
            if vm is not None:
                vm.show_message("internal_error", "error")
            return None

    wrapper.__name__ = getattr(fn, "__name__", "wrapped")
    wrapper.__doc__ = fn.__doc__
    return wrapper


class ViewModel(EventDispatcher):
    """UI state of the kiosk. Every property is set on the UI thread only."""

    state = StringProperty("attract")
    session_no = NumericProperty(0)
    lang = StringProperty("zh_CN")
    elderly = BooleanProperty(False)
    fs = NumericProperty(theme.FONT_SCALE_STANDARD)  # elderly scale of fonts and targets
    u = NumericProperty(1.0)  # window width / 1080: layout unit
    f = NumericProperty(1.0)  # u * fs: font and touch-target unit
    # palette
    bg = ColorProperty(theme.STANDARD.bg)
    surface = ColorProperty(theme.STANDARD.surface)
    fg = ColorProperty(theme.STANDARD.fg)
    muted = ColorProperty(theme.STANDARD.muted)
    primary = ColorProperty(theme.STANDARD.primary)
    primary_fg = ColorProperty(theme.STANDARD.on_primary)  # text on primary (not on_*: events)
    accent = ColorProperty(theme.STANDARD.accent)
    danger = ColorProperty(theme.STANDARD.danger)
    success = ColorProperty(theme.STANDARD.success)
    border = ColorProperty(theme.STANDARD.border)
    disabled_c = ColorProperty(theme.STANDARD.disabled)
    # activity
    busy = BooleanProperty(False)
    busy_text = StringProperty("")
    progress_text = StringProperty("")
    message = StringProperty("")
    message_key = StringProperty("")
    message_kind = StringProperty("")  # error | info
    warning = BooleanProperty(False)
    seconds_left = NumericProperty(0)
    # the header: the journey's step, finished steps, the countdown before a timeout
    step = StringProperty("")
    steps_done = ListProperty([])
    countdown = NumericProperty(0)  # whole seconds; 0: not counting down
    # voice: '' follows the language; 'yue' or 'cmn' chosen in elderly mode (Chinese only)
    dialect = StringProperty("")
    cantonese = BooleanProperty(False)
    # catalogue (not personal)
    matters = ListProperty([])
    matters_error = StringProperty("")
    # set by the enterprise step (the USCC is the enterprise's, shown back to the person)
    enterprise_ok = BooleanProperty(False)
    # the counter-appointment flow: its step ('' closed) and a change count (its data)
    appointment_step = StringProperty("")
    appointment_rev = NumericProperty(0)
    # the bundle flow (一件事一次办): its step ('' closed) and a change count (its data)
    bundle_step = StringProperty("")
    bundle_rev = NumericProperty(0)
    # the commitment flow (告知承诺制): its step ('' closed) and a change count
    commitment_step = StringProperty("")
    commitment_rev = NumericProperty(0)
    core = ObjectProperty(None, allownone=True)

    __events__ = ("on_transition", "on_notice", "on_wiped")

    def __init__(self, core: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.core = core
        ui = core.cfg.ui
        self.default_language = ui.default_language
        self.languages = list(ui.languages)
        self.lang = self.default_language
        self.speaker = Speaker(enabled=ui.voice)
        self._update_voice()
        self._busy_keys: list[str] = []
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._poll_ev: Any = None
        self._matters_loading = False
        self.notices: list[tuple[str, str]] = []  # (kind, key) seen, for tests; no personal data

    # -- wiring -----------------------------------------------------------------------------
    def attach(self) -> None:
        """Subscribe to the core and start the inactivity ticker (worker) and poller (UI)."""
        core = self.core
        core.session.subscribe(self._on_transition_worker)
        if core.journey is not None:
            core.journey.subscribe(self._on_notice_worker)
        self._ticker = threading.Thread(target=self._tick_loop, name="ui-ticker", daemon=True)
        self._ticker.start()
        self._poll_ev = Clock.schedule_interval(self._poll_session, 0.25)
        self.state = core.session.state.value
        self._update_steps()

    def detach(self) -> None:
        self._stop.set()
        if self._poll_ev is not None:
            self._poll_ev.cancel()
        self.speaker.close()

    @property
    def journey(self) -> Any:
        return self.core.journey

    @property
    def data(self) -> Any:
        return self.core.session.data

    def _tick_loop(self) -> None:
        # core.tick() may time a session out, and the wipe hooks talk to the backend: keep it
        # off the UI thread
        while not self._stop.wait(0.25):
            try:
                self.core.tick()
            except Exception:
                log.exception("tick failed")

    # -- worker -> UI thread ---------------------------------------------------------------
    def _on_transition_worker(self, transition: Any, machine: Any) -> None:
        Clock.schedule_once(lambda _dt: self._apply_transition(transition), 0)

    def _on_notice_worker(self, notice: Any) -> None:
        Clock.schedule_once(lambda _dt: self._apply_notice(notice), 0)

    @safe
    def _apply_transition(self, transition: Any) -> None:
        machine = self.core.session
        if transition.source is transition.target and transition.event.value == "timeout":
            return  # the inactivity warning; the poller shows it
        if transition.wiped:
            self._busy_keys.clear()
            self.busy = False
            self.busy_text = ""
            self.progress_text = ""
            self.enterprise_ok = False
            self.appointment_step = ""
            self.commitment_step = ""
            self.bundle_step = ""
            self.dismiss_message()
            self.warning = False
            if transition.target.value == "attract":
                self.set_elderly(False, record=False)  # first: nothing re-spoken in the
                self.set_language(self.default_language, record=False)  # default language
                self.dialect = ""
                self._update_voice()
            self.dispatch("on_wiped")
        if transition.source.value == "submitting" and transition.target.value == "review":
            self.show_message(machine.data.last_error or "submit_failed", "error")
        if transition.target.value == "identify" and transition.event.value == "face_failed":
            self.show_message(machine.data.last_error or "face_mismatch", "error")
        self.session_no = machine.session_no
        self.state = machine.state.value
        self._update_steps()
        self._poll_session(0)
        self.dispatch("on_transition", transition)

    def _update_steps(self) -> None:
        state = self.state
        self.step = progress.step_of(state, self.bundle_step)
        self.steps_done = progress.steps_done(state, self.core.session.data, self.bundle_step)

    @safe
    def _apply_notice(self, notice: Any) -> None:
        self.notices.append((notice.kind, notice.key))
        del self.notices[:-200]
        if notice.kind == "busy":
            self._busy_keys.append(notice.key)
            self.busy = True
            self.busy_text = tr(notice.key, self.lang)
        elif notice.kind == "idle":
            if notice.key in self._busy_keys:
                self._busy_keys.remove(notice.key)
            self.busy = bool(self._busy_keys)
            self.busy_text = tr(self._busy_keys[-1], self.lang) if self._busy_keys else ""
            if not self.busy:
                self.progress_text = ""
        elif notice.kind == "progress":
            self.progress_text = tr(notice.key, self.lang)
        elif notice.kind == "commitment":
            self.commitment_rev += 1
            self.commitment_step = self.journey.commitments.view().step.value
        elif notice.kind == "appointment":
            self.appointment_rev += 1
            self.appointment_step = notice.key
        elif notice.kind == "bundle":
            self.bundle_rev += 1
            self.bundle_step = notice.key
            self._update_steps()  # the header follows the bundle's steps
        elif notice.kind in _BANNER_KINDS:
            if notice.key == "card_removed" and self.core.session.data.holder is None:
                return  # nobody's session holds that card: nothing to tell
            if notice.key == "enterprise_identified":
                self.enterprise_ok = True
            extra = ""
            reasons = notice.params.get("reasons") if notice.params else None
            if reasons:
                extra = "；".join(tr(str(r), self.lang) for r in reasons)
            self.show_message(notice.key, notice.kind, extra)
        self.dispatch("on_notice", notice)

    def _poll_session(self, _dt: float) -> None:
        machine = self.core.session
        self.countdown = self._countdown(machine)
        warning = bool(machine.warning) and machine.state.value != "attract"
        if warning:
            left = machine.seconds_left()
            self.seconds_left = int(left + 0.999) if left is not None else 0
        if warning != self.warning:
            self.warning = warning
            if warning:
                self.say(tr("timeout_warning_voice", self.lang))

    @staticmethod
    def _countdown(machine: Any) -> int:
        """The header's countdown, from the machine's own clock and timeout policy."""
        try:
            elderly = bool(machine.data.elderly)
            timeout = machine.policy.timeout_for(machine.state, elderly)
            if timeout is None:
                return 0
            warning = machine.policy.warning_for(timeout, elderly)
            return progress.countdown(machine.seconds_left(), timeout, warning)
        except Exception:  # never let the header break the screen
            log.exception("countdown unavailable")
            return 0

    # -- messages ---------------------------------------------------------------------------
    def show_message(self, key: str, kind: str = "error", extra: str = "") -> None:
        text = tr(key, self.lang)
        if extra:
            text = f"{text}\n{extra}"
        self.message_key = key
        self.message_kind = kind
        self.message = text
        self.say(text)

    def dismiss_message(self) -> None:
        self.message = ""
        self.message_key = ""
        self.message_kind = ""

    def t(self, key: str, /, **params: Any) -> str:
        return tr(key, self.lang, **params)

    def say(self, text: str) -> None:
        """Speak ``text`` in elderly mode (voice of the language, or the chosen dialect)."""
        if self.elderly:
            self.speaker.say(text, self.lang, voice_for(self.lang, self.dialect))

    def set_cantonese(self, on: bool) -> None:
        """The elderly-mode voice choice: Cantonese or Mandarin for Chinese text."""
        self.dialect = "yue" if on else "cmn"
        self._update_voice()

    def _update_voice(self) -> None:
        self.cantonese = voice_for(self.lang, self.dialect) == "yue"

    # -- preferences -----------------------------------------------------------------------
    def set_language(self, lang: str, record: bool = True) -> None:
        if lang not in self.languages:
            return
        if record:
            self.core.session.set_language(lang)
        self.lang = lang
        self._update_voice()
        if self.message_key:
            self.message = tr(self.message_key, lang)
        self.busy_text = tr(self._busy_keys[-1], lang) if self._busy_keys else ""

    def set_elderly(self, on: bool, record: bool = True) -> None:
        if record:
            self.core.session.set_elderly(on)
        self.elderly = on
        self.fs = theme.FONT_SCALE_ELDERLY if on else theme.FONT_SCALE_STANDARD
        palette = theme.HIGH_CONTRAST if on else theme.STANDARD
        for name in ("bg", "surface", "fg", "muted", "primary", "accent", "danger", "success",
                     "border"):
            setattr(self, name, getattr(palette, name))
        self.primary_fg = palette.on_primary
        self.disabled_c = palette.disabled
        if not on:
            self.speaker.stop_current()
        # turning it on is announced by the app, with the screen's instruction

    # -- catalogue --------------------------------------------------------------------------
    def load_matters(self, force: bool = False) -> None:
        """Fetch the matter catalogue on a worker (the first call hits the backend)."""
        if self._matters_loading or (self.matters and not force):
            return
        self._matters_loading = True
        journey = self.journey

        def work() -> None:
            try:
                matters = list(journey.matters()) if journey is not None else []
                error = "" if matters else "backend_down"
            except Exception as exc:  # BackendError and anything else: plain message
                log.warning("matter catalogue unavailable: %s", type(exc).__name__)
                matters, error = [], "backend_down"

            def apply(_dt: float) -> None:
                self._matters_loading = False
                self.matters_error = error
                self.matters = matters

            Clock.schedule_once(apply, 0)

        threading.Thread(target=work, name="matters", daemon=True).start()

    def camera_preview(self) -> Callable[[int, float], Any] | None:
        """The camera's frames for the face screen's mirror (``screens.mirror.camera_source``:
        read on the mirror's worker, never the UI thread), or None without a camera."""
        devices = getattr(self.core, "devices", None)
        camera = devices.camera if devices is not None else None
        if camera is None:
            return None
        from screens.mirror import camera_source

        return camera_source(camera)

    def blockers(self, matter: Any) -> list[str]:
        try:
            return list(self.core.matter_blockers(matter))
        except Exception:
            log.exception("matter_blockers failed")
            return ["internal_error"]

    def on_fs(self, _inst: Any, _value: float) -> None:
        self.f = self.u * self.fs

    def on_u(self, _inst: Any, _value: float) -> None:
        self.f = self.u * self.fs

    # -- events -----------------------------------------------------------------------------
    def on_transition(self, transition: Any) -> None:
        pass

    def on_notice(self, notice: Any) -> None:
        pass

    def on_wiped(self) -> None:
        pass
