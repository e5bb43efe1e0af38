"""Plays the appointment screens (预约办) in one process (Kivy makes one window per process) and
writes what it observed as JSON: ``python -m tests.screens.run_appointments LANG OUT.json
ARTIFACTS``.

A citizen identified by the identity code on the scanner submits a matter that needs a counter
(birth registration); the result offers a counter visit; halls (this district's first), days
and times (a full one says so and cannot be chosen; the back button steps back inside the
flow), confirmation, booked: the slip printed through the printer role with a QR code of the
number and check code only, the number masked on screen unless held. Then "my appointments"
from home before identifying (it opens by itself once identified), a cancel asked first and
kept, then cancelled. Every appointment screen is shot in standard and in elderly mode (the
header's button, mid-flow). Nothing of the citizen survives the session. Screenshots in
ARTIFACTS.
"""

from __future__ import annotations

import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from screens.testing import KioskDriver, demo_citizen, sim_config
from screens.walkthrough import _fill_form
from tests.screens.parallel import recorded

W, H = 720, 1280
WHO = "huang"  # holds the birth certificate: birth registration needs a counter
MATTER = "birth-registration"
CENTRE = "nh-admin-centre"


def screen(ui: KioskDriver, name: str, timeout: float = 30.0) -> None:
    ui.run_until(lambda: ui.screen == name and not ui.busy_shown, timeout, f"screen {name!r}")
    ui.pump(3)


def flow(ui: KioskDriver) -> Any:
    return ui.journey.appointments


def platform(ui: KioskDriver) -> Any:
    return ui.core.backend.inner.service


def to_result(ui: KioskDriver, step: str) -> None:
    """Home (identified) -> the matter -> consent -> certificates -> form -> submit."""
    ui.tap(f"matter:{MATTER}")
    ui.wait_for_screen("guide")
    ui.tap("begin")
    ui.wait_for_screen("consent")
    ui.tap("consent_agree")
    ui.wait_for_screen("certificates", 30)
    ui.tap("to_form")
    ui.wait_for_screen("form")
    _fill_form(ui)
    ui.tap("form_next")
    ui.wait_for_screen("review")
    ui.tap("submit")
    ui.wait_for_screen("result", 60)
    ui.shot(f"{step}result-offer")


def identify(ui: KioskDriver) -> None:
    ui.show_code(WHO)
    ui.run_until(lambda: ui.core.session.data.identified and not ui.vm.busy, 30,
                 "identified by the code")


def fill_first_slot(ui: KioskDriver) -> Any:
    """Two other citizens take both places of the first slot at the centre."""
    from kiosk.backend.contract import SlotChoice
    from tests.kiosk.backend.helpers import card

    service = platform(ui)
    first = service.appointment_slots(CENTRE, MATTER)[0]
    for key in ("chen", "he"):
        ref = service.check_identity(card(key), kiosk_id=ui.core.cfg.kiosk.id).ref
        service.book_appointment(MATTER, ref, SlotChoice(
            hall_id=CENTRE, at=first.at, idempotency_key=uuid.uuid4().hex),
            kiosk_id=ui.core.cfg.kiosk.id)
        service.end_session(ref, kiosk_id=ui.core.cfg.kiosk.id)
    return first


def slip_codes(pdf: bytes, tmp: Path) -> list[str]:
    import zxingcpp
    from PIL import Image

    from kiosk.documents import pdf_to_png

    out: list[str] = []
    for page in pdf_to_png(pdf, tmp / f"slip-{uuid.uuid4().hex[:6]}", dpi=150):
        with Image.open(page) as img:
            out += [code.text for code in zxingcpp.read_barcodes(img)]
    return out


def both(ui: KioskDriver, step: str) -> None:
    """A screenshot in standard mode, then the same screen in elderly mode (the citizen taps
    the header's button: the screen is laid out again with larger text and targets), and
    back to standard."""
    ui.shot(step)
    ui.tap("elderly")
    ui.run_until(lambda: ui.vm.elderly, 5, "elderly mode")
    ui.pump(5)
    ui.shot(f"{step}-elderly")
    ui.tap("elderly")
    ui.run_until(lambda: not ui.vm.elderly, 5, "standard mode")
    ui.pump(5)


def slot_heights(ui: KioskDriver) -> dict[str, Any]:
    """A time button's height, and the days shown at once, in standard and elderly mode."""
    got: dict[str, Any] = {}
    for mode in ("standard", "elderly"):
        ui.pump(3)
        name = next(n for n in ui.names() if n.startswith("slot:"))
        got[mode] = float(ui.find(name).height)
        got[f"{mode}_days"] = len([n for n in ui.names() if n.startswith("day:")])
        got[f"{mode}_paging"] = ui.find("days_later") is not None
        ui.tap("elderly")
        wanted = mode == "standard"  # elderly next
        ui.run_until(lambda wanted=wanted: ui.vm.elderly == wanted, 5, "mode switched")
    return got


def book(ui: KioskDriver, out: dict[str, Any], tmp: Path, full: Any) -> Any:
    """From the result screen's offer to the booked screen; returns the appointment."""
    got: dict[str, Any] = {"offered": ui.find("book_visit") is not None}
    ui.tap("book_visit")
    screen(ui, "appointment_halls")
    halls = ui.app.screens["appointment_halls"].ids.halls.children
    got["halls"] = [c.name.split(":", 1)[1] for c in reversed(halls)]
    both(ui, "halls")
    ui.tap(f"hall:{CENTRE}")
    screen(ui, "appointment_slots")
    scr = ui.app.screens["appointment_slots"]
    if scr.day != full.at.date().isoformat():
        # midnight in Guangdong passed since the slot was filled: today is no longer
        # bookable, so the first day shown moved on; fill the new first slot, look again
        got["midnight_crossed"] = True
        full = fill_first_slot(ui)
        ui.tap("back")
        screen(ui, "appointment_halls")
        ui.tap(f"hall:{CENTRE}")
        screen(ui, "appointment_slots")
    # the first slot is full: said in words, and cannot be chosen
    label = f"slot:{full.at:%H:%M}"
    widget = next((w for w in ui._walk() if getattr(w, "name", "") == label), None)
    got["full_disabled"] = widget is not None and widget.disabled
    got["full_text"] = widget.text if widget is not None else ""
    got["full_tappable"] = ui.find(label) is not None
    both(ui, "slots")
    days = [n for n in ui.names() if n.startswith("day:")]
    ui.tap(days[1])  # another day
    ui.run_until(lambda: scr.day == days[1].split(":", 1)[1], 10, "the day chosen")
    got["heights"] = slot_heights(ui)
    both(ui, "slots-day")
    # back (the navigation bar) steps back inside the flow, not out of the journey
    ui.tap("back")
    screen(ui, "appointment_halls")
    got["back_to_halls"] = ui.core.session.state.value == "result"
    ui.tap(f"hall:{CENTRE}")
    screen(ui, "appointment_slots")
    ui.tap(days[1])
    ui.run_until(lambda: scr.day == days[1].split(":", 1)[1], 10, "the day chosen")
    times = [n for n in ui.names() if n.startswith("slot:")]
    ui.tap(times[2])
    screen(ui, "appointment_confirm")
    got["when"] = ui.app.screens["appointment_confirm"].when
    both(ui, "confirm")
    printed = len(ui.sim.printed())
    ui.tap("confirm_booking")
    screen(ui, "appointment_booked", 60)
    booked_scr = ui.app.screens["appointment_booked"]
    ui.run_until(lambda: booked_scr.slip in ("printed", "failed"), 60, "the slip")
    both(ui, "booked")
    booked = flow(ui).view().booked
    got["slip"] = booked_scr.slip
    number = booked.appointment_no
    got["number_whole_on_screen"] = number in "\n".join(ui.label_texts())
    with ui.hold("reveal:appointment_no"):
        got["number_when_held"] = number in "\n".join(ui.label_texts())
        ui.shot("booked-hold")
    got["printed_jobs"] = len(ui.sim.printed(printed + 1, 30)) - printed
    pdf = ui.sim.printed()[-1].read_bytes()
    got["qr"] = slip_codes(pdf, tmp)
    got["qr_expected"] = booked.slip_code
    person = demo_citizen(WHO)
    got["qr_personal"] = [x for x in (str(person["name"]), str(person["id_number"]))
                          if any(x in c for c in got["qr"])]
    out["booking"] = got
    return booked


def booking(ui: KioskDriver, out: dict[str, Any], tmp: Path) -> None:
    full = fill_first_slot(ui)
    ui.wait_for_screen("attract")
    identify(ui)
    ui.wait_for_screen("home")
    to_result(ui, "")
    booked = book(ui, out, tmp, full)
    ui.tap("appt_done")
    ui.wait_for_screen("result")
    out["back_on_result"] = ui.screen == "result"
    ui.tap("finish")
    ui.wait_for_screen("goodbye", 30)
    out["view_after_finish"] = flow(ui).view().step.value
    ui.tap("goodbye_done")
    ui.wait_for_screen("attract")
    out["booked_no"] = booked.appointment_no
    out["booked_check"] = booked.check_code


def mine(ui: KioskDriver, out: dict[str, Any], _tmp: Path) -> None:
    got: dict[str, Any] = {}
    ui.tap("start")
    ui.wait_for_screen("home")
    ui.tap("my_appointments")  # before identifying: asked to identify first
    ui.run_until(lambda: bool(ui.message), 10, "identify first")
    got["asked_to_identify"] = ui.vm.message_key
    ui.shot("mine-identify-first")
    ui.dismiss()
    identify(ui)
    screen(ui, "appointment_mine")  # opens by itself once identified
    both(ui, "mine")
    number = out["booked_no"]
    scr = ui.app.screens["appointment_mine"]
    got["listed"] = [n.split(":", 1)[1] for n in ui.names() if n.startswith("cancel_appt:")]
    got["number_whole_on_screen"] = number in "\n".join(ui.label_texts())
    ui.tap(f"cancel_appt:{number}")
    ui.run_until(lambda: scr.asking, 10, "the cancel question")
    both(ui, "cancel-question")
    ui.tap("keep_appointment")  # asked first: keeping it cancels nothing
    ui.run_until(lambda: not scr.asking, 10, "kept")
    got["kept"] = [a.appointment_no for a in flow(ui).view().mine]
    ui.tap(f"cancel_appt:{number}")
    ui.run_until(lambda: scr.asking, 10, "the cancel question")
    ui.tap("confirm_cancel")
    ui.run_until(lambda: ui.vm.message_key == "appointment_cancelled", 30, "cancelled")
    got["cancelled_message"] = ui.message
    ui.dismiss()
    screen(ui, "appointment_mine")
    both(ui, "mine-cancelled")
    got["after_cancel"] = [n for n in ui.names() if n.startswith("cancel_appt:")]
    holder = ui.core.session.data.holder
    got["on_platform"] = [a.appointment_no for a in ui.core.backend.list_appointments(
        holder.ref)]
    ui.tap("appt_back")
    ui.wait_for_screen("home")
    ui.tap("cancel")  # leave: the session ends
    ui.run_until(lambda: ui.screen in ("goodbye", "attract"), 30, "the session ended")
    got["view_after_leaving"] = flow(ui).view().step.value
    person = demo_citizen(WHO)
    got["leftovers"] = [x for x in ui.personal_leftovers(
        [str(person["name"]), str(person["id_number"]), number, str(out["booked_check"])])
        if "platform" not in x]
    out["mine"] = got


def main() -> int:
    lang, out_path, artifacts = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    out: dict[str, Any] = {"lang": lang}
    with tempfile.TemporaryDirectory(prefix="kiosk-appt-") as tmp:
        var = Path(tmp) / "var"
        var.mkdir(parents=True)
        cfg = sim_config(var, W, H, extra={"ui": {"default_language": lang,
                                                  "simulation_dock": False}})
        with recorded(out, out_path), KioskDriver(cfg=cfg, var_dir=var,
                                                  artifacts=artifacts, width=W,
                                                  height=H) as ui:
            for name, step in (("booking", booking), ("mine", mine)):
                out["at"] = name
                step(ui, out, Path(tmp))
            out["devices"] = getattr(ui, "device_use", dict)()
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
