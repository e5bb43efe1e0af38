"""Plays the closed screen in one process (Kivy makes one window per process) and writes what
it observed as JSON: ``python -m tests.screens.run_closed LANG OUT.json ARTIFACTS``.

A simulated kiosk with opening hours, a wall clock the run sets (no sleeps for time to pass)
and a sysfs backlight simulator: a session under way at closing time finishes within its
grace and the closed screen follows; a card and a code shown to the closed kiosk start
nothing; the display dims, a touch brightens it for a while; out of service wins over closed;
the weekend's words; elderly mode; hours changed live; open again by itself at opening time.
Screenshots in ARTIFACTS.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import traceback
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hardware.display.backlight import SysfsBacklight, find_backlight
from hardware.display.simulator import BacklightSim
from screens.testing import KioskDriver, demo_citizen, sim_config
from tests.kiosk.diag.maint_kiosk import MovableClock

W, H = 720, 1280
SH = ZoneInfo("Asia/Shanghai")
HOURS = {"mon-fri": "08:30-12:00, 13:00-17:30", "sat": "09:00-12:00"}
GRACE_S = 300
WAKE_S = 30
MAX = 1000  # max_brightness of the simulated backlight
ZH_CN_ALT = ("网上办理：广东政务服务网、“粤省事”；南海区政务服务中心"
             "（桂城南海大道北 75 号）；热线 12345。")
ZH_HK_ALT = ("網上辦理：廣東政務服務網、「粵省事」；南海區政務服務中心"
             "（桂城南海大道北 75 號）；熱線 12345。")


def at(d: int, h: int, mi: int = 0) -> datetime:
    return datetime(2025, 6, d, h, mi, tzinfo=SH)  # 2025-06-02 is a Monday


class WallClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def build(var_dir: Path, lang: str) -> tuple[Any, WallClock, MovableClock, BacklightSim]:
    from kiosk import compose
    from kiosk.appliance.opening import attach_hours
    from kiosk.diag.attach import attach

    var_dir.mkdir(parents=True, exist_ok=True)
    cfg = sim_config(var_dir, W, H, extra={
        "kiosk": {"location": "南海区人民医院 门诊大厅"},
        "ui": {"default_language": lang, "simulation_dock": False},
        "appliance": {"hours": HOURS, "closed_on": ["2025-06-04"],
                      "closing_grace_s": GRACE_S, "wake_s": WAKE_S, "dim_level": 0.1,
                      "closed_text": {"zh_CN": ZH_CN_ALT, "zh_HK": ZH_HK_ALT,
                                      "en": "Online: the Guangdong government service website "
                                            "or Yueshengshi; Nanhai service centre, 75 Nanhai "
                                            "Avenue North; hotline 12345."}}})
    core = compose.build(cfg)
    if getattr(core, "diagnostics", None) is None:  # (a composition root may attach them)
        core.diagnostics = attach(core, poll_s=0.25, backend_every_s=1.0)
    sim = BacklightSim(var_dir.parent / "sys", max_brightness=MAX)
    info = find_backlight(sim.class_dir)
    assert info is not None
    wall, mono = WallClock(at(2, 17, 20)), MovableClock(time.monotonic)
    core.hours_gate = attach_hours(core, clock=wall, poll_s=0.1,
                                   backlight=SysfsBacklight(info), monotonic=mono)
    return core, wall, mono, sim


class Run:
    def __init__(self, ui: KioskDriver, wall: WallClock, mono: MovableClock,
                 light: BacklightSim, out: dict[str, Any]) -> None:
        self.ui, self.wall, self.mono, self.light, self.out = ui, wall, mono, light, out

    @property
    def hours(self) -> Any:
        return self.ui.app.hours

    def move(self, when: datetime) -> None:
        self.wall.now = when
        self.hours.refresh()

    def screen(self, name: str, timeout: float = 30.0) -> None:
        self.ui.run_until(lambda: self.ui.screen == name, timeout, f"screen {name!r}")
        self.ui.pump(3)

    def brightness(self, raw: int, what: str) -> None:
        self.ui.run_until(lambda: self.light.brightness == raw, 15, what)

    def texts(self) -> list[str]:
        """The texts of the screen shown now (other loaded screens are left out)."""
        scr = self.ui.app.screens[self.ui.screen]
        out, stack = [], [scr]
        while stack:
            widget = stack.pop()
            text = getattr(widget, "text", None)
            if isinstance(text, str) and text.strip():
                out.append(text)
            stack.extend(widget.children)
        return out

    def closing(self) -> None:
        ui, got = self.ui, {}
        self.brightness(MAX, "full brightness while open")
        ui.tap("start")
        ui.run_until(lambda: ui.vm.state == "home", 20, "a session")
        self.move(at(2, 17, 30))  # closing time
        ui.run_until(lambda: self.hours.status().closed, 10, "closed")
        ui.pump(5)
        got["grace_screen"] = ui.screen
        ui.shot("grace-session-goes-on")
        self.move(at(2, 17, 30) + timedelta(seconds=GRACE_S))
        self.screen("closed")
        got["state_after"] = ui.vm.state
        got["texts"] = self.texts()
        got["start_button"] = ui.find("start") is not None
        ui.shot("closed")
        self.out["closing"] = got

    def nothing_starts(self) -> None:
        ui, got = self.ui, {}
        ui.insert_card("chen")
        number = str(demo_citizen("huang")["id_number"])
        code = ui.sim.issue_code(number)
        ui.sim.scan(code)
        ui.advance(1.5)
        got["screen"] = ui.screen
        got["state"] = ui.core.session.state.value
        got["holder"] = ui.core.session.data.holder is not None
        ui.remove_card()
        self.out["nothing_starts"] = got

    def dimming(self) -> None:
        ui, got = self.ui, {}
        dim = round(0.1 * MAX)
        self.brightness(dim, "dimmed when closed")
        got["dimmed"] = self.light.brightness
        ui.tap_at(W / 2, H / 2)  # a passer-by touches the screen
        self.brightness(MAX, "bright on touch")
        got["woken"] = self.light.brightness
        self.mono.advance(WAKE_S + 1)
        self.hours.refresh()
        self.brightness(dim, "dimmed again")
        got["dimmed_again"] = self.light.brightness
        self.out["dimming"] = got

    def precedence(self) -> None:
        ui, gate = self.ui, self.ui.app.diag.gate
        gate.set_out_of_service("operator", "test", via="fleet")
        self.screen("out_of_service")
        ui.shot("out-of-service-over-closed")
        gate.back_in_service("operator", via="fleet")
        self.screen("closed")
        self.out["precedence"] = True

    def weekend_and_elderly(self) -> None:
        ui, got = self.ui, {}
        self.move(at(7, 12, 30))  # Saturday after closing: Monday next
        ui.run_until(lambda: any("9" in t and ("6月" in t or "June" in t)
                                 for t in self.texts()), 15, "Monday's words")
        got["weekend_texts"] = self.texts()
        ui.shot("closed-weekend")
        ui.tap("elderly")
        ui.run_until(lambda: ui.vm.elderly, 10, "elderly mode")
        ui.pump(5)
        got["elderly_screen"] = ui.screen
        ui.shot("closed-elderly")
        ui.tap("elderly")
        ui.run_until(lambda: not ui.vm.elderly, 10, "standard mode")
        self.move(at(3, 18))  # Tuesday evening: Wednesday is a holiday
        ui.run_until(lambda: any("4" in t and ("6月" in t or "June" in t)
                                 for t in self.texts()), 15, "the holiday")
        got["holiday_texts"] = self.texts()
        ui.shot("closed-holiday-ahead")
        self.out["words"] = got

    def opening(self) -> None:
        ui, got = self.ui, {}
        self.move(at(5, 8, 30))
        self.screen("attract")
        self.brightness(MAX, "bright at opening")
        got["attract"] = True
        ui.shot("open-again")
        ui.tap("start")
        ui.run_until(lambda: ui.vm.state == "home", 20, "a session after opening")
        got["session"] = True
        ui.journey.cancel()
        ui.run_until(lambda: ui.vm.state == "attract", 20, "back to attract")
        # hours changed live (a fleet bundle): Thursday closes at noon from now on
        from kiosk.fleet.changes import ConfigChange, changed_keys

        self.move(at(5, 14))
        ui.run_until(lambda: ui.screen == "attract", 10, "open on Thursday afternoon")
        core = ui.core
        old = core.cfg
        hours = {"mon-wed": HOURS["mon-fri"], "thu": "08:30-12:00",
                 "fri": HOURS["mon-fri"], "sat": HOURS["sat"]}
        new = old.model_copy(update={"appliance": old.appliance.model_copy(
            update={"hours": hours})})
        keys = tuple(changed_keys(old, new))
        got["live"] = not core.apply_config(ConfigChange(new, old, keys, idle=False)).restart
        self.hours.refresh()
        self.screen("closed")
        got["closed_live"] = True
        self.out["opening"] = got


def main() -> int:
    lang, out_path, artifacts = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    out: dict[str, Any] = {"lang": lang}
    steps = [("closing", Run.closing), ("nothing_starts", Run.nothing_starts),
             ("dimming", Run.dimming), ("precedence", Run.precedence),
             ("words", Run.weekend_and_elderly), ("opening", Run.opening)]
    with tempfile.TemporaryDirectory(prefix="kiosk-closed-") as tmp:
        core, wall, mono, light = build(Path(tmp) / "var", lang)
        try:
            with KioskDriver(core=core, var_dir=Path(tmp) / "var", artifacts=artifacts,
                             width=W, height=H) as ui:
                run = Run(ui, wall, mono, light, out)
                for name, step in steps:
                    out["at"] = name
                    step(run)
                out["ok"] = True
        except Exception as exc:
            out["ok"] = False
            out["error"] = f"{type(exc).__name__}: {exc}"
            out["traceback"] = traceback.format_exc()
        finally:
            core.hours_gate.close()
            core.diagnostics.close()
            core.stop()
    out_path.write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str),
                        encoding="utf-8")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
