"""Plays the bundle screens (一件事一次办) in one process (Kivy makes one window per process) and
writes what it observed as JSON: ``python -m tests.screens.run_bundles LANG OUT.json
ARTIFACTS``.

Home shows the themed bundles; a citizen taps 新生儿出生一件事 before identifying (asked to
identify first, the overview opens by itself once the identity code is scanned), starts it
(the e-certificates fetched), fills the one form (the phone typed once), reviews (the ID number
masked unless held), submits all: the receipt lists each matter's state under one bundle
number. Then Liang does 退休一件事 with a revoked social security card: one matter refused, in
words, the others standing. Every bundle screen is shot in standard and elderly mode; nothing
of the citizens survives their sessions. Screenshots in ARTIFACTS.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from kiosk.documents import pdf_text
from screens.testing import KioskDriver, demo_citizen, sim_config
from tests.screens.parallel import recorded

W, H = 720, 1280


def screen(ui: KioskDriver, name: str, timeout: float = 30.0) -> None:
    ui.run_until(lambda: ui.screen == name and not ui.busy_shown, timeout, f"screen {name!r}")
    ui.pump(3)


def flow(ui: KioskDriver) -> Any:
    return ui.journey.bundles


def both(ui: KioskDriver, step: str) -> None:
    """A screenshot in standard mode, then in elderly mode (the header's button), and back."""
    ui.shot(step)
    ui.tap("elderly")
    ui.run_until(lambda: ui.vm.elderly, 5, "elderly mode")
    ui.pump(5)
    ui.shot(f"{step}-elderly")
    ui.tap("elderly")
    ui.run_until(lambda: not ui.vm.elderly, 5, "standard mode")
    ui.pump(5)


def identify(ui: KioskDriver, who: str) -> None:
    ui.show_code(who)
    ui.run_until(lambda: ui.core.session.data.identified and not ui.vm.busy, 30,
                 "identified by the code")


def type_into(ui: KioskDriver, key: str, text: str) -> None:
    ui.type_text(text, f"field:{key}")
    ui.tap("key_done")


def newborn(ui: KioskDriver, out: dict[str, Any], _tmp: Path) -> None:
    got: dict[str, Any] = {}
    person = demo_citizen("huang")
    ui.wait_for_screen("attract", 60)  # a loaded machine: the first start takes a while
    ui.tap("start")
    ui.wait_for_screen("home", 60)
    ui.run_until(lambda: ui.find("bundle:newborn") is not None, 30, "the bundle tiles")
    got["tiles"] = sorted(n for n in ui.names() if n.startswith("bundle:"))
    both(ui, "home-bundles")
    ui.tap("bundle:newborn")  # before identifying: asked to identify first
    ui.run_until(lambda: bool(ui.message), 10, "identify first")
    got["asked_to_identify"] = ui.vm.message_key
    ui.shot("identify-first")
    ui.dismiss()
    identify(ui, "huang")
    screen(ui, "bundle_overview")  # opens by itself once identified
    got["steps"] = [n.split(":", 1)[1] for n in _names(ui) if n.startswith("bundle_step:")]
    both(ui, "overview")
    ui.tap("bundle_start")
    screen(ui, "bundle_form")
    form = ui.app.screens["bundle_form"]
    got["fields"] = [n.split(":", 1)[1] for n in ui.names() if n.startswith("field:")]
    got["readonly"] = sorted(k for k, d in form._displays.items() if d.readonly)
    both(ui, "form")
    ui.tap("form_next")  # the phone is missing: said at the field
    ui.run_until(lambda: "phone" in form.errors, 10, "the missing phone")
    type_into(ui, "phone", "13800138000")
    ui.tap("form_next")
    screen(ui, "bundle_review")
    texts = "\n".join(ui.label_texts())
    got["id_whole_on_review"] = str(person["id_number"]) in texts
    with ui.hold("reveal:id_number"):
        got["id_when_held"] = str(person["id_number"]) in "\n".join(ui.label_texts())
    both(ui, "review")
    ui.tap("bundle_submit")
    screen(ui, "bundle_receipt", 60)
    receipt = ui.app.screens["bundle_receipt"]
    v = flow(ui).view()
    got["outcome"] = receipt.outcome
    got["number"] = receipt.number
    got["states"] = {o.matter.id: (o.receipt.state.value if o.receipt else "") for o in
                     v.outcomes}
    got["numbers_shown"] = all(o.receipt.application_no in "\n".join(ui.label_texts())
                               for o in v.outcomes if o.receipt)
    both(ui, "receipt")
    ui.tap("bundle_finish")
    ui.run_until(lambda: ui.screen in ("goodbye", "attract"), 30, "the session ended")
    got["view_after_finish"] = flow(ui).view().step.value
    if ui.screen == "goodbye":
        ui.tap("goodbye_done")
    ui.wait_for_screen("attract")
    got["leftovers"] = [x for x in ui.personal_leftovers(
        [str(person["name"]), str(person["id_number"]), "13800138000", "黄梓睿"])
        if "platform" not in x]
    out["newborn"] = got


def retirement(ui: KioskDriver, out: dict[str, Any], _tmp: Path) -> None:
    got: dict[str, Any] = {}
    person = demo_citizen("liang")
    ui.tap("start")
    ui.wait_for_screen("home", 30)
    identify(ui, "liang")  # identified first this time: the tile opens the overview at once
    ui.run_until(lambda: ui.find("bundle:retirement") is not None, 30, "the bundle tiles")
    ui.tap("bundle:retirement")
    screen(ui, "bundle_overview")
    ui.tap("bundle_start")
    screen(ui, "bundle_form")
    got["header_at_form"] = [ui.vm.step, list(ui.vm.steps_done)]
    type_into(ui, "phone", "13900139000")
    type_into(ui, "bank_account", "6217000011112222")
    type_into(ui, "social_card_no", "D440600001")
    ui.tap("form_next")
    screen(ui, "bundle_review")
    ui.tap("back")  # back steps inside the flow: the form again, values kept
    screen(ui, "bundle_form")
    got["back_to_form"] = ui.core.session.state.value == "home"
    got["kept_phone"] = ui.app.screens["bundle_form"].values.get("phone")
    ui.tap("form_next")
    screen(ui, "bundle_review")
    ui.tap("bundle_submit")
    screen(ui, "bundle_receipt", 60)
    receipt = ui.app.screens["bundle_receipt"]
    got["outcome"] = receipt.outcome
    got["header_at_receipt"] = [ui.vm.step, list(ui.vm.steps_done)]
    failed = ui.find("bundle_outcome:sb-record-print")
    got["failed_texts"] = [w.text for w in ui._walk() if hasattr(w, "text")
                           and failed is not None and _inside(w, failed)]
    both(ui, "receipt-partial")
    # the receipt on paper: the screen's reason words, in the documents' language
    printed_before = len(ui.sim.printed())
    ui.tap("bundle_print")
    ui.run_until(lambda: receipt.printed in ("printed", "failed"), 60, "the receipt printed")
    ui.pump(3)
    got["print"] = {"state": receipt.printed, "text": receipt.print_text,
                    "button": receipt.print_label,
                    "jobs": len(ui.sim.printed(printed_before + 1, 30)) - printed_before,
                    "paper": pdf_text(ui.journey.last_document or b"")}
    ui.shot("receipt-printed")
    ui.tap("bundle_finish")
    ui.run_until(lambda: ui.screen in ("goodbye", "attract"), 30, "the session ended")
    got["leftovers"] = [x for x in ui.personal_leftovers(
        [str(person["name"]), str(person["id_number"]), "13900139000", "6217000011112222"])
        if "platform" not in x]
    out["retirement"] = got


def _names(ui: KioskDriver) -> list[str]:
    """Names of every widget shown, in layout order (cards too, not only what is tapped)."""
    return [str(w.name) for w in ui._walk() if getattr(w, "name", "")]


def _inside(widget: Any, ancestor: Any) -> bool:
    while widget is not None:
        if widget is ancestor:
            return True
        parent = widget.parent
        widget = parent if parent is not widget else None
    return False


def main() -> int:
    lang, out_path, artifacts = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    out: dict[str, Any] = {"lang": lang}
    with tempfile.TemporaryDirectory(prefix="kiosk-bundle-") as tmp:
        var = Path(tmp) / "var"
        var.mkdir(parents=True)
        cfg = sim_config(var, W, H, extra={"ui": {"default_language": lang,
                                                  "simulation_dock": False}})
        with recorded(out, out_path), KioskDriver(cfg=cfg, var_dir=var,
                                                  artifacts=artifacts, width=W,
                                                  height=H) as ui:
            for name, step in (("newborn", newborn), ("retirement", retirement)):
                out["at"] = name
                step(ui, out, Path(tmp))
            out["devices"] = getattr(ui, "device_use", dict)()
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
