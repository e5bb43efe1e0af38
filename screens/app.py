"""The Kivy application: one screen per session state, the chrome around them (languages,
elderly mode, back/leave), overlays (messages, busy, inactivity warning) and the simulation
dock. ``run_app`` is what ``kiosk run`` calls."""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from screens import views  # noqa: F401  (sets nothing Kivy-related at import)

log = logging.getLogger("screens.app")

KV_DIR = Path(__file__).resolve().parent / "kv"
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
LANGUAGE_LABELS = {"zh_CN": "简体中文", "zh_HK": "繁體中文", "en": "English"}


def register_cjk_font() -> str | None:
    """Make a CJK font Kivy's default, so Chinese never renders as empty boxes."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    for path in FONT_CANDIDATES:
        if os.path.exists(path):
            LabelBase.register(DEFAULT_FONT, path)
            return path
    log.error("no CJK font found: Chinese text will not render")
    return None


def configure_window(cfg: Any, fullscreen: bool | None = None) -> None:
    """Window settings that must be made before the window exists."""
    from kivy.config import Config

    ui = cfg.ui
    full = ui.fullscreen if fullscreen is None else fullscreen
    Config.set("graphics", "width", str(ui.width))
    Config.set("graphics", "height", str(ui.height))
    Config.set("graphics", "resizable", "0")
    Config.set("graphics", "borderless", "1" if ui.lockdown or full else "0")
    Config.set("graphics", "fullscreen", "auto" if full else "0")
    Config.set("graphics", "maxfps", "60")
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("kivy", "keyboard_mode", "system")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    # no red dots from right clicks
    Config.set("postproc", "double_tap_time", "250")


def build_app(core: Any, fullscreen: bool | None = None) -> Any:
    """Configure Kivy for ``core.cfg`` and return the (not yet running) KioskApp."""
    configure_window(core.cfg, fullscreen)
    from screens.kioskapp import KioskApp

    return KioskApp(core)


def run_app(core: Any, ready_file: str | None = None, exit_when_ready: bool = False,
            stop: threading.Event | None = None, on_ready: Callable[[], None] | None = None,
            on_tick: Callable[[], None] | None = None, tick_s: float = 0.5) -> None:
    """Run the touchscreen until ``stop`` is set (or at once after ready, for benchmarks).

    ``on_ready`` is called on the first frame drawn after the core is ready (READY=1);
    ``on_tick`` every ``tick_s`` from the Kivy clock, so a hung UI thread stops it (the
    watchdog). The core gets a screenshot provider for the fleet's ``screenshot`` command."""
    app = build_app(core)
    app.ready_file = ready_file
    app.exit_when_ready = exit_when_ready
    app.stop_event = stop
    _link_to_service(core, on_ready, on_tick, tick_s)
    try:
        app.run()
    finally:
        core.screenshot_provider = None
        app.shutdown()


def _link_to_service(core: Any, on_ready: Callable[[], None] | None,
                     on_tick: Callable[[], None] | None, tick_s: float) -> None:
    from kivy.clock import Clock
    from kivy.core.window import Window

    if on_ready is not None:
        def first_frame(*_args: Any) -> None:
            if core.wait_ready(0):
                Window.unbind(on_flip=first_frame)
                on_ready()

        Window.bind(on_flip=first_frame)
    if on_tick is not None:
        Clock.schedule_interval(lambda _dt: on_tick(), tick_s)
    core.screenshot_provider = _screenshot


def _screenshot(timeout: float) -> bytes:
    """A PNG of what the window shows, read on the UI thread right after the next frame is
    drawn (``on_flip``, before the buffers swap); called from another thread."""
    from kivy.clock import Clock
    from kivy.core.window import Window

    done = threading.Event()
    out: list[bytes] = []

    def grab(*_args: Any) -> None:
        Window.unbind(on_flip=grab)
        try:
            from kivy.graphics.opengl import GL_RGB, GL_UNSIGNED_BYTE, glReadPixels
            from PIL import Image

            width, height = Window.size
            data = glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE)
            image = Image.frombytes("RGB", (width, height), data).transpose(
                Image.Transpose.FLIP_TOP_BOTTOM)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            out.append(buffer.getvalue())
        finally:
            done.set()

    def arm(_dt: float) -> None:
        Window.bind(on_flip=grab)
        Window.canvas.ask_update()  # draw a frame now

    Clock.schedule_once(arm, 0)
    if not done.wait(timeout) or not out:
        raise TimeoutError("no screenshot from the UI thread")
    return out[0]
