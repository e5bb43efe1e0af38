"""Plays the technician's screens in one process (Kivy makes one window per process) and
writes what it observed as JSON:
``python -m tests.screens.run_maintenance LANG OUT.json ARTIFACTS [--full]``.

Out of service (a critical device fails; with --full also the platform unreachable past the
limit) appears and leaves by itself; the 5-tap gesture opens the technician prompt after a
citizen's journey, wiping it; forged, expired, other-kiosk and replayed tokens and a wrong
PIN are refused and the lock-out holds; the maintenance screen shows no citizen, names each
fault (card reader, paper out, camera gone, platform down) and comes back to ready; guided
tests, the camera preview with its face box, exit. Screenshots in ARTIFACTS.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.signing

from screens.testing import KioskDriver, demo_citizen, sim_config
from tests.kiosk.diag.maint_kiosk import (
    ISSUER,
    KIOSK_ID,
    PIN,
    PIN_HASH,
    MovableClock,
    token,
)

W, H = 720, 1280
OOS_LIMIT_S = 10  # service.backend_unreachable_limit_s (the schema's least)


def needles() -> list[str]:
    people = [demo_citizen(k) for k in ("chen", "huang")]
    return [str(p["name"]) for p in people] + [str(p["id_number"]) for p in people]


def build(var_dir: Path, lang: str) -> tuple[Any, MovableClock]:
    """A simulated kiosk with its diagnostics on a clock the test moves (back-offs,
    lock-out), handed to the app as the composition root would."""
    from kiosk import compose
    from kiosk.diag.attach import attach
    from kiosk.identity.codes import verify_key_to_text

    trust = var_dir / "technician.pub"
    var_dir.mkdir(parents=True, exist_ok=True)
    trust.write_text(verify_key_to_text(ISSUER.verify_key) + "\n", encoding="ascii")
    cfg = sim_config(var_dir, W, H, extra={
        "kiosk": {"id": KIOSK_ID, "location": "南海区人民医院 门诊大厅"},
        "ui": {"default_language": lang, "simulation_dock": False},
        "face": {"liveness": False},
        "printer": {"job_timeout_s": 4},
        "service": {"backend_unreachable_limit_s": OOS_LIMIT_S,
                    "technician": {"trust_key_file": str(trust), "pin_hash": PIN_HASH}}})
    wall = MovableClock(time.time)
    core = compose.build(cfg, diagnostics=lambda c: attach(c, clock=wall, poll_s=0.25,
                                                           backend_every_s=1.0))
    return core, wall


class Run:
    def __init__(self, ui: KioskDriver, wall: MovableClock, out: dict[str, Any]) -> None:
        self.ui = ui
        self.wall = wall
        self.out = out

    @property
    def maint(self) -> Any:
        return self.ui.app.diag.maintenance

    def screen(self, name: str, timeout: float = 30.0) -> None:
        self.ui.run_until(lambda: self.ui.screen == name, timeout, f"screen {name!r}")
        self.ui.pump(3)

    def scr(self, name: str) -> Any:
        return self.ui.app.screens[name]

    def gesture(self) -> None:
        """Five taps in the top-left corner within 3 s: queued together and delivered in one
        frame, so a loaded machine's slow frames cannot stretch them past the window."""
        from kivy.tests.common import UnitTestTouch

        for _ in range(5):
            touch = UnitTestTouch(12, self.ui.height - 12)
            touch.touch_down()
            touch.touch_up()
        self.ui.pump(3)

    def shown(self) -> str:
        return "\n".join(self.ui.label_texts())

    def personal_on_screen(self) -> list[str]:
        text = "\n".join(self.ui.visible_texts())
        return [n[-4:] for n in needles() if n in text]

    # -- out of service -------------------------------------------------------------------
    def out_of_service(self, full: bool) -> None:
        ui, sim, got = self.ui, self.ui.sim, {}
        sim.call("idcard", "fault", kind="sam_60")  # the critical card reader fails
        self.screen("out_of_service")
        got["texts"] = [t for t in ui.label_texts() if "12345" in t or "Out of service" in t]
        got["start_refused"] = ui.find("start") is None
        ui.shot("out-of-service")
        sim.call("idcard", "fault", kind="none")
        self.screen("attract")
        got["back_by_itself"] = True
        if full:
            sim.backend_cut(True)  # the platform unreachable for longer than the limit
            started = time.monotonic()
            self.screen("out_of_service", OOS_LIMIT_S + 30)
            got["backend_after_s"] = round(time.monotonic() - started, 1)
            ui.shot("out-of-service-backend")
            sim.backend_cut(False)
            self.screen("attract", 30)
            got["backend_back"] = True
        self.out["oos"] = got

    # -- the prompt -----------------------------------------------------------------------
    def pin(self, digits: str) -> None:
        for d in digits:
            self.ui.tap(f"key:{d}")

    def attempt(self, text: str, pin: str, shot: str, typed: bool = False) -> str:
        """Show ``text`` to the scanner (or type it on a keyboard), type ``pin``, sign in;
        the prompt's message."""
        ui, tech = self.ui, self.scr("technician")
        tech.message = ""
        if typed:
            field = ui.find("tech:token_input")
            field.focus = True
            field.insert_text(text)  # what a USB keyboard's keys do
            ui.tap("tech:token_use")
            ui.run_until(lambda: tech.token_state == "typed", 15, "token typed")
        else:
            ui.sim.scan(text)
            ui.run_until(lambda: tech.token_state == "scanner", 15, "token read")
        self.pin(pin)
        ui.tap("tech:login")
        ui.run_until(lambda: not tech.checking and bool(tech.message)
                     and tech.message != tech.t("tech_checking"), 30, "sign-in answered")
        ui.pump(3)
        ui.shot(shot)
        return str(tech.message)

    def prompt_refusals(self) -> None:
        got: dict[str, Any] = {}
        used = token(self.wall)
        self.gesture()
        self.screen("technician")
        got["first"] = self.login(used)  # a good one first: then replay it
        self.maint.exit().result(30)
        self.screen("attract")
        self.gesture()
        self.screen("technician")
        tech = self.scr("technician")
        forged = token(self.wall, key=nacl.signing.SigningKey(b"\x09" * 32))
        cases: list[tuple[str, str, str, str, bool]] = [
            ("forged", forged, PIN, "tech_token_invalid", False),
            ("expired", token(self.wall, ttl=60, issued_at=self.wall() - 600), PIN,
             "tech_token_expired", True),  # typed on a keyboard
            ("other_kiosk", token(self.wall, kiosk="kiosk-other-99"), PIN,
             "tech_token_other_kiosk", False),
            ("replayed", used, PIN, "tech_token_used", False),
        ]
        for name, text, pin, key, typed in cases:
            message = self.attempt(text, pin, f"prompt-refused-{name}", typed)
            got[name] = message == tech.t(key)
            self.wall.advance(70)  # past the back-off
        fresh = token(self.wall)
        message = self.attempt(fresh, "999999", "prompt-wrong-pin")  # the fifth failure
        got["wrong_pin_locks"] = message == tech.t("tech_locked", minutes=15)
        message = self.attempt(fresh, PIN, "prompt-locked")
        got["lockout_holds"] = message == tech.t("tech_locked", minutes=15)
        got["maintenance_after_lockout"] = self.maint.active
        # past the lock-out, and so past the prompt's own 120 s: it closes by itself first
        self.wall.advance(15 * 60 + 1)
        self.screen("attract")
        got["prompt_closed_by_itself"] = not self.maint.prompt_open
        self.gesture()
        self.screen("technician")
        got["after_lockout"] = self.login_here(fresh)
        self.out["prompt"] = got

    def login(self, text: str) -> bool:
        tech = self.scr("technician")
        self.ui.sim.scan(text)
        self.ui.run_until(lambda: tech.token_state == "scanner", 15, "token read")
        self.ui.shot("prompt")
        return self.login_here(None)

    def login_here(self, text: str | None) -> bool:
        ui, tech = self.ui, self.scr("technician")
        if text is not None:
            ui.sim.scan(text)
            ui.run_until(lambda: tech.token_state == "scanner", 15, "token read")
        self.pin(PIN)
        ui.tap("tech:login")
        self.screen("maintenance", 30)
        return bool(self.maint.active)

    # -- the maintenance screen -----------------------------------------------------------
    def report_done(self, level: str, timeout: float = 60.0) -> Any:
        scr = self.scr("maintenance")
        self.ui.run_until(lambda: not scr.working and scr.report is not None
                          and scr.report.level == level, timeout, f"{level} report")
        self.ui.pump(3)
        return scr.report

    def external(self, level: str = "external") -> Any:
        scr = self.scr("maintenance")
        scr.report = None
        self.ui.tap(f"mt:report_{level}")
        return self.report_done(level)

    def after_journey(self) -> None:
        """A citizen identified (her name on the screen), then the gesture: nothing of her
        on the prompt or the maintenance screen."""
        ui, got = self.ui, {}
        ui.present_face("chen")
        ui.run_until(lambda: ui.core.devices["idcard"].usable, 20, "reader ready")
        for _attempt in range(3):  # a card read cut short is placed again, as a citizen does
            ui.insert_card("chen")
            ui.run_until(lambda: (ui.core.session.data.holder is not None and not ui.vm.busy)
                         or bool(ui.message), 30, "identified")
            if ui.core.session.data.holder is not None:
                break
            ui.dismiss()
            ui.remove_card()
            ui.pump(5)
        got["citizen_state"] = ui.core.session.state.value
        self.gesture()
        self.screen("technician")
        got["wiped"] = ui.core.session.data.holder is None
        got["prompt_personal"] = self.personal_on_screen()
        got["granted"] = self.login(token(self.wall))
        report = self.report_done("internal")
        got["verdict"] = report.verdict.value
        ui.pump(5)
        ui.shot("maintenance")
        got["maintenance_personal"] = self.personal_on_screen()
        got["leftovers"] = [x for x in ui.personal_leftovers(needles())
                            if "platform" not in x]
        self.out["after_journey"] = got

    def faults(self) -> None:
        ui, sim, scr, got = self.ui, self.ui.sim, self.scr("maintenance"), {}
        sim.call("idcard", "fault", kind="sam_60")
        rep = self.external()
        got["idcard"] = {"verdict": rep.verdict.value, "reasons": rep.reasons,
                         "named": scr.lines["idcard"].status == "hardware_error"}
        ui.shot("fault-card-reader")
        sim.call("idcard", "fault", kind="none")
        ui.run_until(lambda: ui.core.devices["idcard"].usable, 15, "reader back")
        got["idcard_back"] = self.external().verdict.value
        sim.paper(True)
        ui.tap("mt:print")
        ui.run_until(lambda: scr.panel_state == "fail", 60, "test page failed")
        got["paper_panel"] = scr.panel_text
        rep = self.external("internal")
        got["paper"] = {"verdict": rep.verdict.value, "reasons": rep.reasons}
        ui.shot("fault-paper-out")
        sim.paper(False)
        ui.tap("mt:print")
        ui.run_until(lambda: scr.asking, 60, "test page printed")
        got["paper_panel_after"] = scr.panel_text
        ui.shot("test-page-question")
        ui.tap("mt:yes")
        got["paper_back"] = self.external().verdict.value
        sim.camera_frames(False)
        ui.run_until(lambda: not ui.core.devices["camera"].usable, 20, "camera gone")
        rep = self.external()
        got["camera"] = {"verdict": rep.verdict.value, "reasons": rep.reasons,
                         "status": scr.lines["camera"].status}
        ui.shot("fault-camera-gone")
        sim.camera_frames(True)
        ui.run_until(lambda: ui.core.devices["camera"].usable, 20, "camera back")
        sim.backend_cut(True)
        rep = self.external()
        got["backend"] = {"verdict": rep.verdict.value, "reasons": rep.reasons}
        ui.shot("fault-platform-down")
        sim.backend_cut(False)
        rep = self.external()
        got["ready_again"] = {"verdict": rep.verdict.value, "reasons": rep.reasons}
        ui.shot("ready-again")
        self.out["faults"] = got

    def guided(self) -> None:
        ui, scr, got = self.ui, self.scr("maintenance"), {}
        ui.present_face("chen")
        ui.tap("mt:preview")
        ui.run_until(lambda: scr.preview_on and scr.ids.preview.texture is not None
                     and scr.panel_detail == scr.t("mt_faces_seen", n=1), 40, "a face boxed")
        ui.pump(5)
        ui.shot("camera-preview-face-box")
        ui.tap("mt:yes")
        got["preview"] = scr.panel_text
        ui.tap("mt:test:idcard")
        ui.run_until(lambda: scr.panel_text == scr.t("mt_step_card"), 30, "place a card")
        ui.insert_card("huang")
        ui.run_until(lambda: scr.panel_state in ("ok", "fail") and not scr._steps, 40,
                     "card read")
        got["card"] = scr.panel_text
        got["card_personal"] = self.personal_on_screen()
        ui.remove_card()
        ui.pump(5)
        ui.shot("guided-card-reader")
        ui.tap("mt:reset")
        ui.tap("mt:yes")
        ui.run_until(lambda: scr.panel_state == "ok" and not scr.working, 20, "reset")
        got["reset"] = scr.panel_text
        ui.tap("mt:out")
        ui.run_until(lambda: scr.flagged and not scr.working, 20, "out of service")
        got["flag"] = scr.flag_text
        ui.shot("set-out-of-service")
        ui.tap("mt:exit")
        self.screen("out_of_service")
        got["oos_after_exit"] = True
        ui.shot("out-of-service-by-technician")
        self.gesture()
        self.screen("technician")
        self.login_here(token(self.wall))
        ui.tap("mt:in")
        ui.run_until(lambda: not scr.flagged and not scr.working, 20, "back in service")
        ui.tap("mt:exit")
        self.screen("attract")
        got["attract_after"] = True
        self.out["guided"] = got


def main() -> int:
    lang, out_path, artifacts = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    full = "--full" in sys.argv
    out: dict[str, Any] = {"lang": lang}
    steps: list[tuple[str, Callable[[Run], None]]] = [
        ("out_of_service", lambda r: r.out_of_service(full)),
        ("after_journey", Run.after_journey), ("faults", Run.faults),
        ("guided", Run.guided), ("prompt", Run.prompt_refusals)]
    with tempfile.TemporaryDirectory(prefix="kiosk-maint-") as tmp:
        core, wall = build(Path(tmp) / "var", lang)
        try:
            with KioskDriver(core=core, var_dir=Path(tmp) / "var", artifacts=artifacts,
                             width=W, height=H) as ui:
                run = Run(ui, wall, out)
                for name, step in steps:
                    out["at"] = name
                    step(run)
                out["ok"] = True
        except Exception as exc:
            out["ok"] = False
            out["error"] = f"{type(exc).__name__}: {exc}"
            out["traceback"] = traceback.format_exc()
        finally:
            core.diagnostics.close()
            core.stop()
    out_path.write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str),
                        encoding="utf-8")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
