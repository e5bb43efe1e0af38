"""Plays the UI journeys in one process (Kivy makes one window per process) and writes what
it observed as JSON: ``python -m tests.screens.run_journeys LANG OUT.json ARTIFACTS [--full]``.

As a citizen meets the kiosk: liveness on (the camera simulator's 3D head acts out each
challenge), every card through the simulated reader; the driver fails the run when a device
path it meant a journey to use (reader, camera, printer) served nothing.
"""

from __future__ import annotations

import json
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from screens.testing import KioskDriver, demo_citizen, demo_enterprise
from screens.walkthrough import _identify_with_card, enterprise_journey, personal_journey


class ManualClock:
    """The session machine's clock, moved by hand to test inactivity."""

    def __init__(self, base: Any) -> None:
        self.base = base
        self.offset = 0.0
        self.lock = threading.Lock()

    def now(self) -> float:
        with self.lock:
            return float(self.base.now()) + self.offset

    def jump(self, seconds: float) -> None:
        with self.lock:
            self.offset += seconds


def needles() -> list[str]:
    out: list[str] = []
    for key in ("chen", "huang"):
        p = demo_citizen(key)
        out += [str(p["name"]), str(p["id_number"])]
    for key in ("meiwei", "xinchuang"):
        e = demo_enterprise(key)
        out += [str(e["name"]), str(e["uscc"])]
    return out


def identifiers() -> list[str]:
    """Demo identifiers no label may show whole (ID numbers, credit codes, the phone number
    the journeys type)."""
    out = [str(demo_citizen(k)["id_number"]) for k in ("chen", "huang", "lee", "liang", "he")]
    out += [str(demo_enterprise(k)["uscc"]) for k in ("meiwei", "xinchuang")]
    return out + ["13800138000"]


def check_review_hold(ui: KioskDriver, out: dict[str, Any]) -> None:
    """On the review screen the ID number is masked; held, it shows whole; released, it
    hides again."""
    number = str(demo_citizen("chen")["id_number"])
    out["before"] = number in "\n".join(ui.label_texts())
    if ui.find("reveal:id_number") is None:
        out["held"] = "no reveal control"
        return
    with ui.hold("reveal:id_number"):
        out["held"] = number in "\n".join(ui.label_texts())
        ui.shot("review-hold")
    out["after"] = number in "\n".join(ui.label_texts())


# a district notice as an operator would push it, and one whose day has passed
NOTICES = [{"zh_CN": "测试公告：本机周日照常开放。", "zh_HK": "測試公告：本機週日照常開放。",
            "en": "Test notice: open on Sundays as usual."},
           {"zh_CN": "过期公告", "until": "2020-01-01"}]
STEP_SCREENS = ("attract", "home", "guide", "consent", "certificates", "form", "review",
                "result", "delivery", "rating", "goodbye")


def header(ui: KioskDriver) -> dict[str, Any]:
    """What the header shows now: the whole title?, the highlighted and ticked steps, the
    countdown."""
    from screens.i18n import tr

    ids = ui.app.root_widget.ids
    title = ids.title
    chips = list(reversed(ids.steps.children))
    return {"title_whole": title.text == tr("kiosk_title", ui.vm.lang) and title.fits(),
            "title_lines": title.rendered_lines(),
            "steps_shown": bool(ids.steps.shown and ids.steps.height > 0),
            "current": [c.step for c in chips if c.current],
            "current_text": [c.text for c in chips if c.current],
            "done": [c.step for c in chips if c.done],
            "countdown": ids.countdown.text if ids.countdown.width > 0 else ""}


def header_checks(seen: dict[str, Any]) -> dict[str, Any]:
    return {step: (lambda u, s=step: seen.__setitem__(s, header(u))) for step in STEP_SCREENS}


def attract_checks(ui: KioskDriver) -> dict[str, Any]:
    """The attract screen: three ways in, shortcuts, the configured notice; a tile points at
    its device; a shortcut opens its matter's guide at once."""
    scr = ui.app.screens["attract"]
    got: dict[str, Any] = {"tiles": [n for n in ("entry:card", "entry:face", "entry:code")
                                     if ui.find(n) is not None],
                           "shortcuts": [n for n in ui.names() if n.startswith("shortcut:")],
                           "notices": scr.notice_texts}
    ui.tap("entry:code")
    got["way"] = scr.way
    got["hint"] = scr.hints[2]
    ui.advance(1.0)
    ui.shot("attract-entry-code")
    ui.tap("entry:code")
    ui.tap("shortcut:hukou-certificate")
    ui.wait_for_screen("guide")
    got["shortcut_matter"] = ui.core.session.data.matter.id
    ui.tap("cancel")
    ui.wait_for_screen("attract")
    return got


def countdown_check(ui: KioskDriver, lang: str) -> dict[str, Any]:
    """The header counts down in the last part of the screen's timeout, before the
    inactivity warning; more time clears it."""
    clock = ManualClock(ui.core.session.clock)
    ui.core.session.clock = clock
    got: dict[str, Any] = {}
    try:
        if lang != ui.vm.lang:
            ui.tap(f"lang:{lang}")
        ui.tap("start")
        ui.wait_for_screen("home")
        ui.pump(3)
        got["fresh"] = header(ui)["countdown"]
        left = ui.core.session.seconds_left() or 0
        clock.jump(left - 35)  # 35 s left: counting, not yet warning (20 s)
        ui.run_until(lambda: bool(header(ui)["countdown"]), 5, "header countdown")
        got["counting"] = header(ui)["countdown"]
        got["warning_at_35"] = ui.vm.warning
        ui.shot("countdown")
        clock.jump(20)
        ui.run_until(lambda: ui.vm.warning, 5, "inactivity warning")
        got["under_warning"] = header(ui)["countdown"]
        ui.tap("more_time")
        ui.run_until(lambda: not ui.vm.warning, 5, "warning gone")
        ui.pump(3)
        got["after_more_time"] = header(ui)["countdown"]
        ui.tap("cancel")
        ui.wait_for_screen("attract")
    finally:
        ui.core.session.clock = clock.base
    return got


def elderly_voice(ui: KioskDriver, lang: str) -> dict[str, Any]:
    """What elderly mode asked the voice to say, with which voice."""
    return {"requested": list(ui.vm.speaker.requested), "handed": ui.vm.speaker.spoken,
            "history_voices": sorted({v for v, _ in ui.vm.speaker.history})}


def leftovers(ui: KioskDriver) -> list[str]:
    ui.pump(3)
    return ui.personal_leftovers(needles())


def faults(ui: KioskDriver, out: dict[str, Any]) -> None:
    """Faults mid-journey: each ends in a clear message, session intact or wiped."""
    f: dict[str, Any] = {}
    # 1. backend cut while consenting: message, session intact, works after restore
    _identify_with_card(ui, "chen")
    ui.wait_for_screen("home", 60)
    ui.remove_card()
    ui.run_until(lambda: ui.vm.message_key == "card_removed", 20, "card removed notice")
    f["card_pulled"] = {"message": ui.message, "state": ui.screen,
                        "holder_kept": ui.core.session.data.holder is not None}
    ui.shot("fault-card-pulled")
    ui.tap("dismiss")
    ui.tap("matter:sb-record-print")
    ui.wait_for_screen("guide")
    ui.tap("begin")
    ui.wait_for_screen("consent")
    ui.backend_cut(True)
    ui.tap("consent_agree")
    ui.run_until(lambda: bool(ui.message), 20, "backend message")
    f["backend_cut"] = {"message": ui.message, "key": ui.vm.message_key, "state": ui.screen,
                        "holder_kept": ui.core.session.data.holder is not None}
    ui.shot("fault-backend-cut")
    ui.tap("dismiss")
    ui.backend_cut(False)
    ui.tap("consent_agree")
    ui.wait_for_screen("certificates", 30)
    ui.tap("to_form")
    ui.wait_for_screen("form")
    ui.tap("form_next")
    ui.wait_for_screen("review")
    # 2. double tap on submit: one application
    ui.double_tap("submit")
    ui.wait_for_screen("result", 60)
    f["double_submit_state"] = ui.screen
    ui.tap("to_delivery")
    ui.wait_for_screen("delivery")
    # 3. printer out of paper (found when the job stalls): plain message, session kept,
    #    other ways offered
    ui.paper_out(True)
    ui.tap("deliver:print")
    ui.run_until(lambda: bool(ui.message), 90, "printer message")
    f["printer_out"] = {"state": ui.screen, "message": ui.message, "key": ui.vm.message_key,
                        "receipt_kept": ui.core.session.data.receipt is not None}
    ui.shot("fault-printer-out")
    ui.dismiss()
    ui.pump(80)  # the delivery screen re-reads the printer status once a second
    f["printer_out"]["texts"] = [t for t in ui.visible_texts() if "✕" in t or "●" in t]
    ui.shot("fault-printer-alternatives")
    ui.tap("deliver:electronic")
    ui.wait_for_screen("rating")
    ui.paper_out(False)
    ui.double_tap("rate:good")
    ui.wait_for_screen("goodbye")
    ui.tap("goodbye_done")
    ui.wait_for_screen("attract")
    f["leftovers_after_faults"] = leftovers(ui)
    # 4. inactivity: warning with countdown, more time, then timeout wipes
    clock = ManualClock(ui.core.session.clock)
    ui.core.session.clock = clock
    ui.tap("start")
    ui.wait_for_screen("home")
    ui.present_face("chen")
    ui.insert_card("chen")
    ui.run_until(lambda: ui.screen in ("face_consent", "home") and not ui.vm.busy
                 and ui.core.session.data.holder is not None, 30, "identified")
    left = ui.core.session.seconds_left() or 0
    clock.jump(left - 5)
    ui.run_until(lambda: ui.vm.warning, 10, "inactivity warning")
    ui.pump(10)
    f["warning_seconds"] = ui.vm.seconds_left
    ui.shot("inactivity-warning")
    ui.tap("more_time")
    ui.run_until(lambda: not ui.vm.warning, 10, "warning gone")
    f["after_more_time"] = ui.screen
    clock.jump((ui.core.session.seconds_left() or 0) + 1)
    ui.wait_for_screen("attract", 20)
    f["after_timeout"] = ui.screen
    f["wiped"] = ui.core.session.data.personal_values()
    ui.core.session.clock = clock.base
    f["leftovers_after_timeout"] = leftovers(ui)
    out["faults"] = f


class FaceChecks:
    """The liveness challenges and face outcomes the journey told (a worker's listener)."""

    def __init__(self) -> None:
        self.challenges: list[str] = []
        self.outcomes: list[str] = []

    def __call__(self, notice: Any) -> None:
        if notice.kind == "progress" and notice.key.startswith("challenge_"):
            self.challenges.append(notice.key)
        elif notice.kind == "face" and notice.params.get("step") == notice.params.get("steps"):
            self.outcomes.append("verified")

    def summary(self) -> dict[str, Any]:
        return {"challenges": list(self.challenges), "verified": len(self.outcomes)}


def main() -> int:
    lang, out_path, artifacts = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    full = "--full" in sys.argv
    out: dict[str, Any] = {"lang": lang}
    ui: KioskDriver | None = None
    checks_seen = FaceChecks()
    try:
        # three of these windows share two cores in CI: the face check gets twice its
        # kiosk deadline (15 s) to finish its challenges
        with KioskDriver(artifacts=artifacts, width=720, height=1280,
                         extra_config={"face": {"deadline_s": 30},
                                       "printer": {"job_timeout_s": 15},
                                       "ui": {"voice": True},
                                       "attract": {"notices": NOTICES}}) as ui:
            out["devices"] = ui.core.summary()
            out["liveness"] = ui.core.cfg.face.liveness
            ui.journey.subscribe(checks_seen)
            ui.watch_identifiers(identifiers())
            hold: dict[str, Any] = {}
            seen: dict[str, Any] = {}
            checks = header_checks(seen)
            review_header = checks["review"]
            checks["review"] = lambda u: (review_header(u), check_review_hold(u, hold))
            out["personal"] = personal_journey(ui, lang, checks=checks)
            out["review_hold"] = hold
            out["header"] = seen
            out["personal_leftovers"] = leftovers(ui)
            out["frames"] = {**ui.frames.summary(), "render_s": ui.render_s}
            out["enterprise"] = enterprise_journey(ui, lang)
            out["enterprise_leftovers"] = leftovers(ui)
            ui.artifacts = artifacts / "round2"
            ui._step = 0  # noqa: SLF001 - numbering restarts in the new folder
            if lang != ui.vm.lang:
                ui.tap(f"lang:{lang}")
            out["attract"] = attract_checks(ui)
            out["countdown"] = countdown_check(ui, lang)
            ui.artifacts = artifacts / "elderly"
            ui._step = 0  # noqa: SLF001
            ui.vm.speaker.requested.clear()
            elderly_seen: dict[str, Any] = {}
            checks = header_checks(elderly_seen)
            if lang == "zh_CN":  # the elderly-mode choice: Cantonese for Chinese text
                home_header = checks["home"]
                checks["home"] = lambda u: (home_header(u), u.tap("voice:cantonese"),
                                            u.pump(3), u.shot("home-cantonese"))
            out["elderly"] = personal_journey(ui, lang, elderly=True, checks=checks)
            out["elderly_header"] = elderly_seen
            out["elderly_voice"] = elderly_voice(ui, lang)
            out["elderly_fs"] = ui.vm.fs
            out["elderly_after"] = {"cantonese": ui.vm.cantonese, "dialect": ui.vm.dialect}
            out["elderly_leftovers"] = leftovers(ui)
            if full:
                ui.artifacts = artifacts / "faults"
                ui._step = 0  # noqa: SLF001
                faults(ui, out)
            out["masking"] = {"exposed": ui.exposed, "revealed": ui.revealed}
            out["device_use"] = ui.device_use()
            out["ok"] = True  # unless a device path was not used: the driver raises on exit
    except Exception as exc:
        out["ok"] = False
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()
        if ui is not None:
            out["device_use"] = ui.device_use()
    out["face_checks"] = checks_seen.summary()
    out_path.write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str),
                        encoding="utf-8")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
