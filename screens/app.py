"""The Kivy application: one screen per session state, the chrome around them (languages,
elderly mode, back/leave), overlays (messages, busy, inactivity warning) and the simulation
dock. ``run_app`` is what ``kiosk run`` calls."""

from __future__ import annotations

import logging
import os
import threading
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
            stop: threading.Event | None = None) -> None:
    """Run the touchscreen until ``stop`` is set (or at once after ready, for benchmarks)."""
    app = build_app(core)
    app.ready_file = ready_file
    app.exit_when_ready = exit_when_ready
    app.stop_event = stop
    try:
        app.run()
    finally:
        app.shutdown()
